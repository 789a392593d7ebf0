import PlanterCore
import PlanterJSON

/// Writes a document to standard output as `-o json` (indented) or `-o yaml` asks.
package enum StructuredOutput {
    package static func write(_ value: JSON, _ format: OutputFormat) {
        StandardOutput.write(render(value, format))
    }

    package static func render(_ value: JSON, _ format: OutputFormat) -> String {
        format == .yaml ? YAMLText.render(value) : value.prettySerialized + "\n"
    }
}

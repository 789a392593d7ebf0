import Foundation
import PlanterCore
import PlanterDeployment
import PlanterHost

/// Reads a plan file (`-` for standard input) and validates it against a deployment.
package enum PlanFile {
    package static func read(_ path: String) -> Result<[UInt8], ValidationFailure> {
        if path == "-" {
            return .success([UInt8](FileHandle.standardInput.readDataToEndOfFile()))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read" : "no such file"
            return .failure(ValidationFailure([.error("", "\(reason): \(path)")]))
        }
        return .success([UInt8](data))
    }

    package static func validate(_ path: String, setup: DeploymentSetup, strict: Bool) -> Result<Plan, ValidationFailure> {
        switch read(path) {
        case .failure(let failure): return .failure(failure)
        case .success(let bytes):
            return PlanValidator.validate(text: bytes, format: .forPath(path), registry: setup.registry, strict: strict)
        }
    }
}

import PlanterCore
import PlanterDocument
import PlanterJSON

/// Turns a parsed document into a Manifest, collecting every problem with its pointer.
/// Structural checks across phases (unknown dependencies, cycles, executors) are the
/// validator's; this reads one phase at a time.
public enum ManifestDecoder {
    /// A decoded manifest with where each phase's parts were written.
    public struct Located: Sendable {
        public var manifest: Manifest
        public var problems: Problems
        /// One per phase of `manifest`, in order.
        public var locations: [PhaseLocation]
        /// Some element of the list was not a phase object (indices no longer line up).
        public var skippedElements: Bool
    }

    /// Accepts a JSON array of phases, or an object with a `phases` array.
    public static func decode(_ document: JSON) -> (manifest: Manifest, problems: Problems) {
        let located = decodeLocated(document)
        return (located.manifest, located.problems)
    }

    public static func decodeLocated(_ document: JSON) -> Located {
        var problems = Problems()
        let list: [JSON]
        let basePath: String
        switch document {
        case .array(let elements):
            list = elements
            basePath = ""
        case .object(let object):
            let phasesKey = object.keys.first { ObjectReader.normalize($0) == "phases" }
            guard let phasesKey, let value = object[phasesKey] else {
                problems.error("", "expected a JSON array of phases, or an object with a \"phases\" array")
                return Located(manifest: Manifest(phases: []), problems: problems, locations: [], skippedElements: false)
            }
            guard let elements = value.arrayValue else {
                problems.error(JSONPointer.append("", phasesKey), "\(phasesKey) must be an array of phases, got \(value.typeName)")
                return Located(manifest: Manifest(phases: []), problems: problems, locations: [], skippedElements: false)
            }
            list = elements
            basePath = JSONPointer.append("", phasesKey)
        default:
            problems.error("", "expected a JSON array of phases, or an object with a \"phases\" array; got \(document.typeName)")
            return Located(manifest: Manifest(phases: []), problems: problems, locations: [], skippedElements: false)
        }
        var phases: [Phase] = []
        var locations: [PhaseLocation] = []
        phases.reserveCapacity(list.count)
        locations.reserveCapacity(list.count)
        for (index, element) in list.enumerated() {
            var location = PhaseLocation(phase: JSONPointer.append(basePath, index))
            if let phase = decodePhase(element, location: &location, problems: &problems) {
                phases.append(phase)
                locations.append(location)
            }
        }
        return Located(manifest: Manifest(phases: phases), problems: problems, locations: locations,
                       skippedElements: phases.count != list.count)
    }

    static let phaseFields = "kind, id, spec"
    static let specFields = "description, selector, instanceMode, waitFor, retry, onFailure, onSuccess"

    static func decodePhase(_ value: JSON, location: inout PhaseLocation, problems: inout Problems) -> Phase? {
        let path = location.phase
        guard let object = value.objectValue else {
            problems.error(path, "a phase must be an object, got \(value.typeName)")
            return nil
        }
        var reader = ObjectReader(object, path: path, problems: &problems)
        var phase = Phase(id: "")
        if let (kind, key) = reader.takeKeyed("kind") {
            let text = kind.stringValue ?? ""
            if text != "Phase" {
                problems.error(JSONPointer.append(path, key), "kind must be \"Phase\", got \(FieldReader.describe(kind))")
            }
            phase.kind = "Phase"
        } else {
            problems.error(JSONPointer.append(path, "kind"), "missing kind (must be \"Phase\")")
        }
        if let (id, key) = reader.takeKeyed("id", includingNull: true) {
            if key != "id" { location.idKey = key }
            if let text = FieldReader.string(id, JSONPointer.append(path, key), &problems, what: "id") {
                if text.trimmingSpaces.isEmpty { problems.error(JSONPointer.append(path, key), "id must not be empty") }
                phase.id = text
            }
        } else {
            problems.error(JSONPointer.append(path, "id"), "missing id")
        }
        if let (spec, key) = reader.takeKeyed("spec") {
            let specPath = JSONPointer.append(path, key)
            if let specObject = spec.objectValue {
                if key != "spec" { location.specKey = key }
                phase.spec = decodeSpec(specObject, path: specPath, location: &location, problems: &problems)
            } else if !spec.isNull {
                problems.error(specPath, "spec must be an object, got \(spec.typeName)")
            }
        }
        phase.extensions = reader.extensions
        reader.finish(&problems, known: phaseFields)
        return phase
    }

    static func decodeSpec(_ object: JSONObject, path: String, location: inout PhaseLocation,
                           problems: inout Problems) -> PhaseSpec {
        var reader = ObjectReader(object, path: path, problems: &problems)
        var spec = PhaseSpec()
        if let (value, key) = reader.takeKeyed("description") {
            spec.description = FieldReader.string(value, JSONPointer.append(path, key), &problems, what: "description")
        }
        if let (value, key) = reader.takeKeyed("selector") {
            if key != "selector" { location.selectorKey = key }
            spec.selector = decodeSelector(value, path: JSONPointer.append(path, key), location: &location, problems: &problems)
        }
        if let (value, key) = reader.takeKeyed("instancemode") {
            spec.instanceMode = decodeInstanceMode(value, path: JSONPointer.append(path, key), problems: &problems)
            if spec.instanceMode == nil { spec.openInstanceMode = value.stringValue }
        }
        if let (value, key) = reader.takeKeyed("waitfor") {
            if key != "waitFor" { location.waitForKey = key }
            spec.waitFor = decodeWaitFor(value, path: JSONPointer.append(path, key), location: &location, problems: &problems)
        }
        if let (value, valuePath) = reader.take("retry") {
            spec.retry = decodeRetry(value, path: valuePath, problems: &problems)
        }
        if let (value, valuePath) = reader.take("onfailure") {
            spec.onFailure = decodeHandler(value, path: valuePath, problems: &problems)
        }
        if let (value, valuePath) = reader.take("onsuccess") {
            spec.onSuccess = decodeHandler(value, path: valuePath, problems: &problems)
        }
        spec.extensions = reader.extensions
        if let run = spec.extensions["x-run"], run.objectValue == nil, !run.isNull {
            problems.error(JSONPointer.append(path, "x-run"), "x-run (the executor payload) must be an object, got \(run.typeName)")
        }
        for key in ["x-timeout", "x-scheduleTimeout"] {
            if let timeout = spec.extensions[key], !timeout.isNull {
                _ = FieldReader.duration(timeout, JSONPointer.append(path, key), &problems, what: key)
            }
        }
        reader.finish(&problems, known: specFields)
        return spec
    }

    static func decodeSelector(_ value: JSON, path: String, location: inout PhaseLocation,
                               problems: inout Problems) -> Selector? {
        guard let object = value.objectValue else {
            if !value.isNull { problems.error(path, "selector must be an object, got \(value.typeName)") }
            return nil
        }
        var reader = ObjectReader(object, path: path, problems: &problems)
        var selector = Selector()
        if let (labels, key) = reader.takeKeyed("matchlabels") {
            if key != "matchLabels" { location.matchLabelsKey = key }
            selector.matchLabels = FieldReader.labels(labels, JSONPointer.append(path, key), &problems, what: "matchLabels")
        }
        selector.extensions = reader.extensions
        reader.finish(&problems, known: "matchLabels")
        return selector.matchLabels.isEmpty && selector.extensions.isEmpty ? nil : selector
    }

    static func decodeWaitFor(_ value: JSON, path: String, location: inout PhaseLocation,
                              problems: inout Problems) -> WaitFor? {
        // A bare list is read as the phases to wait for.
        if value.arrayValue != nil {
            location.waitForIsList = true
            let phases = FieldReader.strings(value, path, &problems, what: "waitFor entry")
            return phases.isEmpty ? nil : WaitFor(phases: phases)  // `[]` waits for nothing, as `{"phases": []}` does
        }
        guard let object = value.objectValue else {
            if !value.isNull { problems.error(path, "waitFor must be an object, got \(value.typeName)") }
            return nil
        }
        var reader = ObjectReader(object, path: path, problems: &problems)
        var waitFor = WaitFor()
        if let (phases, key) = reader.takeKeyed("phases") {
            if key != "phases" { location.phasesKey = key }
            waitFor.phases = FieldReader.strings(phases, JSONPointer.append(path, key), &problems, what: "waitFor.phases entry")
            // A phase waits for a few others: comparing with the earlier entries beats hashing each id.
            let ids = waitFor.phases, few = ids.count <= 16
            var seen = Set<String>()  // empty, no allocation, unless the list is long
            for (index, id) in ids.enumerated() where few ? ids[..<index].contains(id) : !seen.insert(id).inserted {
                problems.warning(JSONPointer.append(JSONPointer.append(path, key), index), "phase \"\(id)\" is listed twice")
            }
        }
        if let (timeout, key) = reader.takeKeyed("timeout") {
            waitFor.timeout = FieldReader.duration(timeout, JSONPointer.append(path, key), &problems, what: "waitFor.timeout")
        }
        waitFor.extensions = reader.extensions
        reader.finish(&problems, known: "phases, timeout")
        return waitFor.phases.isEmpty && waitFor.timeout == nil && waitFor.extensions.isEmpty ? nil : waitFor
    }

    static let retryDurations = ["x-initialDelay", "x-maxDelay"]

    static func decodeRetry(_ value: JSON, path: String, problems: inout Problems) -> RetryPolicy? {
        guard let object = value.objectValue else {
            if !value.isNull { problems.error(path, "retry must be an object, got \(value.typeName)") }
            return nil
        }
        var reader = ObjectReader(object, path: path, problems: &problems)
        var retry = RetryPolicy()
        if let (attempts, key) = reader.takeKeyed("maxattempts") {
            retry.maxAttempts = FieldReader.integer(attempts, JSONPointer.append(path, key), &problems, what: "maxAttempts", range: 1...1000)
        }
        retry.extensions = reader.extensions
        for key in retryDurations {
            if let value = retry.extensions[key], !value.isNull {
                _ = FieldReader.duration(value, JSONPointer.append(path, key), &problems, what: key)
            }
        }
        if let value = retry.extensions["x-factor"], !value.isNull {
            _ = FieldReader.number(value, JSONPointer.append(path, "x-factor"), &problems, what: "x-factor (each delay over the last)",
                                   range: BackoffPolicy.factorRange)
        }
        if let value = retry.extensions["x-jitter"], !value.isNull {
            _ = FieldReader.number(value, JSONPointer.append(path, "x-jitter"), &problems, what: "x-jitter (a fraction of the delay)",
                                   range: BackoffPolicy.jitterRange)
        }
        reader.finish(&problems, known: "maxAttempts")
        return retry.maxAttempts == nil && retry.extensions.isEmpty ? nil : retry
    }

    static func decodeHandler(_ value: JSON, path: String, problems: inout Problems) -> Handler? {
        guard let object = value.objectValue else {
            if !value.isNull { problems.error(path, "a handler must be an object, got \(value.typeName)") }
            return nil
        }
        var reader = ObjectReader(object, path: path, problems: &problems)
        var handler = Handler()
        if let (action, key) = reader.takeKeyed("action") {
            handler.action = decodeAction(action, path: JSONPointer.append(path, key), problems: &problems)
            if handler.action == nil { handler.openAction = action.stringValue }
        }
        if let (spec, specPath) = reader.take("spec") {
            if let specObject = spec.objectValue {
                var specReader = ObjectReader(specObject, path: specPath, problems: &problems)
                if let (message, messagePath) = specReader.take("message") ?? specReader.take("messages") {
                    handler.messages = FieldReader.strings(message, messagePath, &problems, what: "message")
                }
                if let (labels, labelsPath) = specReader.take("labels") {
                    handler.labels = FieldReader.labels(labels, labelsPath, &problems, what: "labels")
                }
                if let (notify, notifyPath) = specReader.take("notify") {
                    handler.notify = decodeNotify(notify, path: notifyPath, problems: &problems)
                }
                handler.specExtensions = specReader.extensions
                specReader.finish(&problems, known: "message, labels, notify")
            } else if !spec.isNull {
                problems.error(specPath, "handler spec must be an object, got \(spec.typeName)")
            }
        }
        handler.extensions = reader.extensions
        reader.finish(&problems, known: "action, spec")
        let isEmpty = handler.action == nil && handler.openAction == nil && handler.messages.isEmpty && handler.labels.isEmpty
            && handler.notify == nil && handler.extensions.isEmpty && handler.specExtensions.isEmpty
        return isEmpty ? nil : handler
    }

    /// The protocol leaves instanceMode open: a value Planter does not know (the original's tests
    /// send "parallel", "sequential") runs as `immediate`, with a warning (an error in strict mode).
    static func decodeInstanceMode(_ value: JSON, path: @autoclosure () -> String, problems: inout Problems) -> InstanceMode? {
        guard let text = value.stringValue else {
            problems.error(path(), "instanceMode must be a string (immediate or onUse), got \(FieldReader.describe(value))")
            return nil
        }
        if let mode = InstanceMode.allCases.first(where: { ObjectReader.normalize($0.rawValue) == ObjectReader.normalize(text) }) {
            return mode
        }
        let hint = ObjectReader.hint(for: text, in: InstanceMode.allCases.map(\.rawValue))
        problems.warning(path(), "unknown instanceMode \(FieldReader.describe(value)) runs as \"immediate\" (\(hint)known: immediate, onUse)")
        return nil
    }

    /// The protocol leaves a handler's action open: an unknown one (the original's tests send "log")
    /// acts as the default, raise, with a warning; the handler's messages are still logged.
    static func decodeAction(_ value: JSON, path: @autoclosure () -> String, problems: inout Problems) -> HandlerAction? {
        guard let text = value.stringValue else {
            problems.error(path(), "action must be a string (raise, continue or abort), got \(FieldReader.describe(value))")
            return nil
        }
        if let action = HandlerAction(rawValue: text.lowercased()) { return action }
        let hint = ObjectReader.hint(for: text, in: HandlerAction.allCases.map(\.rawValue))
        problems.warning(path(), "unknown action \(FieldReader.describe(value)) acts as the default, \"raise\" "
            + "(\(hint)known: raise, continue, abort); the handler's messages are still logged")
        return nil
    }

    static func decodeNotify(_ value: JSON, path: String, problems: inout Problems) -> Notify? {
        guard let object = value.objectValue else {
            if !value.isNull { problems.error(path, "notify must be an object, got \(value.typeName)") }
            return nil
        }
        var reader = ObjectReader(object, path: path, problems: &problems)
        var notify = Notify()
        if let (email, emailPath) = reader.take("email") {
            notify.email = FieldReader.strings(email, emailPath, &problems, what: "email")
        }
        if let (slack, slackPath) = reader.take("slack") {
            notify.slack = FieldReader.strings(slack, slackPath, &problems, what: "slack")
        }
        notify.extensions = reader.extensions
        reader.finish(&problems, known: "email, slack")
        return notify.email.isEmpty && notify.slack.isEmpty && notify.extensions.isEmpty ? nil : notify
    }
}

import PlanterJSON

/// The one spelling Planter writes: camelCase, sections that are not set left out,
/// `x-` keys back where they were read.
extension Phase {
    public var canonicalJSON: JSON {
        var object = JSONObject()
        object.appendUnchecked("kind", .string(kind))
        object.appendUnchecked("id", .string(id))
        object.appendUnchecked("spec", spec.canonicalJSON)
        object.appendExtensions(extensions)
        return .object(object)
    }
}

extension PhaseSpec {
    public var canonicalJSON: JSON {
        var object = JSONObject()
        if let description { object.appendUnchecked("description", .string(description)) }
        if let selector {
            var selectorObject = JSONObject()
            selectorObject.appendUnchecked("matchLabels", selector.matchLabels.json)
            selectorObject.appendExtensions(selector.extensions)
            object.appendUnchecked("selector", .object(selectorObject))
        }
        if let instanceMode {
            object.appendUnchecked("instanceMode", .string(instanceMode.rawValue))
        } else if let openInstanceMode {
            object.appendUnchecked("instanceMode", .string(openInstanceMode))
        }
        if let waitFor {
            var waitObject = JSONObject()
            waitObject.appendUnchecked("phases", .array(waitFor.phases.map(JSON.string)))
            if let timeout = waitFor.timeout { waitObject.appendUnchecked("timeout", .string(timeout.description)) }
            waitObject.appendExtensions(waitFor.extensions)
            object.appendUnchecked("waitFor", .object(waitObject))
        }
        if let retry {
            var retryObject = JSONObject()
            if let maxAttempts = retry.maxAttempts { retryObject.appendUnchecked("maxAttempts", .int(Int64(maxAttempts))) }
            retryObject.appendExtensions(retry.extensions)
            object.appendUnchecked("retry", .object(retryObject))
        }
        if let onFailure { object.appendUnchecked("onFailure", onFailure.canonicalJSON) }
        if let onSuccess { object.appendUnchecked("onSuccess", onSuccess.canonicalJSON) }
        object.appendExtensions(extensions)
        return .object(object)
    }
}

extension Handler {
    public var canonicalJSON: JSON {
        var object = JSONObject()
        if let action {
            object.appendUnchecked("action", .string(action.rawValue))
        } else if let openAction {
            object.appendUnchecked("action", .string(openAction))
        }
        var spec = JSONObject()
        if !messages.isEmpty { spec.appendUnchecked("message", .array(messages.map(JSON.string))) }
        if !labels.isEmpty { spec.appendUnchecked("labels", labels.json) }
        if let notify {
            var notifyObject = JSONObject()
            if !notify.email.isEmpty { notifyObject.appendUnchecked("email", .array(notify.email.map(JSON.string))) }
            if !notify.slack.isEmpty { notifyObject.appendUnchecked("slack", .array(notify.slack.map(JSON.string))) }
            notifyObject.appendExtensions(notify.extensions)
            spec.appendUnchecked("notify", .object(notifyObject))
        }
        spec.appendExtensions(specExtensions)
        if !spec.isEmpty { object.appendUnchecked("spec", .object(spec)) }
        object.appendExtensions(extensions)
        return .object(object)
    }
}

extension Manifest {
    /// The canonical JSON array of phases.
    public var canonicalJSON: JSON { .array(phases.map(\.canonicalJSON)) }
}

extension JSONObject {
    mutating func appendExtensions(_ extensions: JSONObject) {
        for member in extensions { appendUnchecked(member.key, member.value) }
    }
}

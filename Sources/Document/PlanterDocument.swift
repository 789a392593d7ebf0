// PlanterDocument: reading the text users write (manifests, deployment configs) into JSON
// values, with positions for messages.
//
// DocumentParser reads JSON or YAML (YAMLDocument checks libyaml's event stream first: depth,
// aliases, non-text keys, a conversion budget); ObjectReader and FieldReader read one object's
// fields in any spelling with strict types and "unknown field, did you mean" problems.
//
// May import: PlanterCore, PlanterJSON, Yams (and its CYaml), Foundation.

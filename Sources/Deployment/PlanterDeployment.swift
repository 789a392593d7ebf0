// PlanterDeployment: the deployment config (planter.yaml) and what it decides.
//
// The model (Deployment, ExecutorDefinition, SecretDefinition), its decoding with pointers
// into the file (DeploymentDecoder), the secrets it grants, and dispatch: which executor
// instance serves a phase's labels (ExecutorRegistry). Instances are made on first use, so
// validating a plan starts nothing. A remote worker reads the same file through this module.
//
// May import: PlanterCore, PlanterDocument, ExecutorRuntime, PlanterJSON, Foundation. Not the
// manifest model, the runner or the server.

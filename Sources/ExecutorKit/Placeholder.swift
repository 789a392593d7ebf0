enum ExecutorKitPlaceholder {}

enum PlanterHostPlaceholder {}

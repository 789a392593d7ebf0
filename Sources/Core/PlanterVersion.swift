public enum PlanterVersion {
    public static let current = "0.1.0"
}

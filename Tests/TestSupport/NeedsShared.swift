import Testing

extension Trait where Self == ConditionTrait {
    /// For a test that reads the knowledge base or the corpora (`Paths.shared`): skipped when
    /// they are not there, so a bare clone still runs everything else; in CI (`CI=true`) never
    /// skipped, so a missing `shared` fails the tests that need it. `scripts/test.sh` lists the
    /// tests skipped this way by the comment's "needs ../shared:" prefix.
    public static var needsShared: Self {
        .enabled(
            if: Paths.sharedIsPresent || Paths.isCI,
            "needs ../shared: \(Paths.shared.path) is missing (CASEWATCH_SHARED names another place)")
    }
}

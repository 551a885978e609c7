/// The version of casewatch: printed by `--version`, and part of every cache key, so an
/// upgrade never serves what an older build parsed or compiled.
public enum CasewatchVersion {
    public static let string = "0.2.0"
}

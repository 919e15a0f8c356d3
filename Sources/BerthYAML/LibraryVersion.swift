import CYAML

/// The libyaml this process is linked with, for `berth doctor`.
public enum YAMLLibrary {
    public static var version: String { String(cString: yaml_get_version_string()) }
}

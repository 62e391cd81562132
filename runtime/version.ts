/** The ku release version, reported by `ku version`, agents and the hub. */
export const KU_VERSION = '0.1.0';

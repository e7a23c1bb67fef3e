// The gsnap version, reported by the API and the CLI; a test keeps it equal to package.json's.

export const VERSION = "0.1.0";

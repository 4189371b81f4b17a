// What /version reports. The minor selects which kubectl a version-dispatching kubectl runs,
// and the build metadata says which server this really is.
export const KUBERNETES_VERSION: Record<string, string> = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.5+skiff',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-11-25T00:00:00Z',
  goVersion: `node${process.versions.node}`,
  compiler: 'tsc',
  platform: `${process.platform === 'win32' ? 'windows' : process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};

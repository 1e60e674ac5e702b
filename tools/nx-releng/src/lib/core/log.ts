/** Plain line logging: works in Nx's terminal UI, in static CI logs and in replayed cache output. */
export interface Log {
  info(line: string): void;
  warn(line: string): void;
}

export const consoleLog: Log = {
  info: (line) => console.log(line),
  warn: (line) => console.warn(`WARNING: ${line}`),
};

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

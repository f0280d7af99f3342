/** Types of sipp-stats.mjs for bench:pi (TypeScript). */
export function readStat(file: string): Record<string, string>;
export function readRetrans(dir: string): { total: number; by: string[] };

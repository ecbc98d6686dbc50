/**
 * TCP connections counted at the OS level (Linux `/proc`): which processes hold established
 * connections to a port. Used to show that risk children hold no database connection of their
 * own (tests) and to count a fleet's connections to MongoDB (`bench/fleet.ts`).
 *
 * @module
 */

/** Socket inodes of ESTABLISHED TCP connections whose remote port is `port`. */
function socketInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (fields.length < 10) continue;
      const remotePort = fields[2]!.split(":")[1];
      if (remotePort === hexPort && fields[3] === "01") inodes.add(fields[9]!);
    }
  }
  return inodes;
}

/**
 * Established TCP connections to `port` per process (only processes that hold at least one);
 * `pids` limits the search (default: every process this user can inspect).
 */
export function connectionsTo(port: number, pids?: readonly number[]): Map<number, number> {
  const inodes = socketInodes(port);
  const counts = new Map<number, number>();
  const candidates = pids ?? [...Deno.readDirSync("/proc")]
    .filter((entry) => /^\d+$/.test(entry.name))
    .map((entry) => Number(entry.name));
  for (const pid of candidates) {
    let count = 0;
    try {
      for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
        try {
          const target = Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`);
          const match = /^socket:\[(\d+)\]$/.exec(target);
          if (match !== null && inodes.has(match[1]!)) count++;
        } catch {
          // Closed meanwhile.
        }
      }
    } catch {
      continue; // Gone, or not ours.
    }
    if (count > 0) counts.set(pid, count);
  }
  return counts;
}

/** Resident set size of a process in MB (`VmRSS`); undefined when it is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return undefined;
  }
}

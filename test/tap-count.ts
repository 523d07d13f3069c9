// Counts leaf assertions in a TAP 14 stream (node-tap's raw output): an "ok"/"not ok" line is a subtest's summary
// when the line before it is the child's plan ("1..N", indented deeper); every other one is a leaf assertion.
export function countTap(tap: string): { passed: number; failed: number; skipped: number } {
  let passed = 0, failed = 0, skipped = 0;
  let previous = '';
  for (const line of tap.split('\n')) {
    const m = /^(\s*)(not ok|ok) \d+(.*)$/.exec(line);
    if (m) {
      const indent = m[1]!.length;
      const prevPlan = /^(\s*)1\.\.\d+/.exec(previous);
      const isSummary = prevPlan !== null && prevPlan[1]!.length > indent;
      if (!isSummary) {
        if (/# SKIP/i.test(m[3]!)) skipped++;
        else if (m[2] === 'ok') passed++;
        else failed++;
      }
    }
    if (line.trim() !== '' && !/^\s*#/.test(line)) previous = line;
  }
  return { passed, failed, skipped };
}

// Every relative link in the user documentation resolves: README.md, docs/*.md and bench's prose link to files that
// exist, and a link with a #fragment names a heading of its target (GitHub's anchors: lower-cased, punctuation
// dropped, spaces to hyphens, repeats numbered -1, -2, ...). External links (http:, https:, mailto:) are not fetched.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const docs = join(root, 'docs');
const files = [
  join(root, 'README.md'),
  ...(existsSync(docs) ? readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => join(docs, f)) : []),
  ...['METHODOLOGY.md', 'RESULTS.md'].map((f) => join(root, 'bench', f)).filter((f) => existsSync(f)),
];

/** Markdown without fenced code blocks, where a `#` line is not a heading and link-like text is not a link. */
function withoutFences(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** GitHub's heading anchors of a markdown file, in order, with repeats numbered. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of withoutFences(readFileSync(file, 'utf8')).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const text = m[1]!.replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

t.ok(files.length >= 2, 'README.md and docs/ are there');
for (const file of files) {
  t.test(relative(root, file), async (t) => {
    // Inline code is not searched for links either.
    const text = withoutFences(readFileSync(file, 'utf8')).replace(/`[^`\n]*`/g, '');
    const links = [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
    let checked = 0;
    for (const link of links) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
      checked++;
      const [path = '', fragment] = link.split('#', 2) as [string, string | undefined];
      const target = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      if (!t.ok(existsSync(target), `${link}: ${relative(root, target)} exists`)) continue;
      if (fragment === undefined || fragment === '') continue;
      if (!t.ok(statSync(target).isFile() && target.endsWith('.md'), `${link}: a #fragment points into a markdown file`)) continue;
      t.ok(anchors(target).has(decodeURIComponent(fragment).toLowerCase()), `${link}: ${relative(root, target)} has a heading #${fragment}`);
    }
    t.comment(`${checked} relative links`);
  });
}

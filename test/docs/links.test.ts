import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** README.md and every page under docs/, as paths relative to the repository root. */
function markdownFiles(): string[] {
  const pages: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir))) {
      const path = join(dir, name);
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (name.endsWith('.md')) pages.push(path);
    }
  };
  if (existsSync(join(root, 'docs'))) walk('docs');
  return ['README.md', ...pages.sort()];
}

/** The lines that a renderer shows as text: fenced code blocks are left out (their brackets are code, not links). */
function proseLines(text: string): { line: string; number: number }[] {
  const lines: { line: string; number: number }[] = [];
  let fence: string | null = null;
  text.split('\n').forEach((line, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === null || marker.startsWith(fence))) {
      fence = fence === null ? marker : null;
      return;
    }
    if (fence === null) lines.push({ line, number: i + 1 });
  });
  return lines;
}

/** GitHub's heading anchors: lowercase, punctuation dropped except '-' and '_', each space a '-', repeats numbered. */
function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { line } of proseLines(text)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const visible = heading
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase();
    const slug = visible.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/**
 * Every inline link and image target in the prose, with its line number. Link text may run over a line break;
 * inline code spans and fenced blocks are not links.
 */
function linkTargets(text: string): { target: string; number: number }[] {
  const prose = new Map(proseLines(text).map(({ line, number }) => [number, line]));
  const lines = text.split('\n').map((_line, i) => (prose.get(i + 1) ?? '').replace(/(`+)[^`]*?\1/g, (code) => ' '.repeat(code.length)));
  const joined = lines.join('\n');
  const targets: { target: string; number: number }[] = [];
  for (const match of joined.matchAll(/!?\[(?:[^\][]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const number = joined.slice(0, match.index + match[0].indexOf('](')).split('\n').length;
    targets.push({ target: match[1] ?? '', number });
  }
  return targets;
}

/** What is wrong with one link of `file`, or null when it leads somewhere that exists. */
function brokenLink(file: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // another site: not this repository's to check
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
  if (target === '') return 'an empty link';
  const absolute = path === '' ? join(root, file) : resolve(root, dirname(file), path);
  const inRepo = relative(root, absolute);
  if (inRepo.startsWith('..') || inRepo.split(sep).includes('node_modules')) return `${path} leads outside the repository`;
  if (!existsSync(absolute)) return `${path} does not exist`;
  if (anchor === null) return null;
  if (!absolute.endsWith('.md')) return `#${anchor} points into ${path}, which has no headings`;
  if (!headingAnchors(readFileSync(absolute, 'utf8')).has(anchor)) return `#${anchor} is no heading of ${relative(root, absolute)}`;
  return null;
}

const files = markdownFiles();

describe('the docs', () => {
  it('when the front page is counted, then it is at most 220 lines (the rest lives in docs/)', () => {
    const lines = readFileSync(join(root, 'README.md'), 'utf8').trimEnd().split('\n').length;
    expect(lines).toBeLessThanOrEqual(220);
  });

  it('when docs/ is listed, then every page is reachable from README.md through links', () => {
    const reached = new Set<string>(['README.md']);
    const queue = ['README.md'];
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      for (const { target } of linkTargets(readFileSync(join(root, file), 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || brokenLink(file, target) !== null) continue;
        const path = target.split('#')[0] ?? '';
        const next = path === '' ? file : relative(root, resolve(root, dirname(file), decodeURIComponent(path)));
        if (next.endsWith('.md') && !reached.has(next)) {
          reached.add(next);
          queue.push(next);
        }
      }
    }
    expect(files.filter((f) => !reached.has(f))).toEqual([]);
  });
});

describe.each(files)('%s', (file) => {
  const text = readFileSync(join(root, file), 'utf8');

  it('when each link is followed, then it leads to a file of the repository and, with an #anchor, to a heading there', () => {
    const broken = linkTargets(text).flatMap(({ target, number }) => {
      const problem = brokenLink(file, target);
      return problem === null ? [] : [`${file}:${number}: (${target}) ${problem}`];
    });
    expect(broken).toEqual([]);
  });

  it('when a table is read as text, then none of its lines is wider than 120 characters', () => {
    const wide = proseLines(text).flatMap(({ line, number }) =>
      line.trimStart().startsWith('|') && [...line].length > 120 ? [`${file}:${number} (${[...line].length} characters)`] : [],
    );
    expect(wide).toEqual([]);
  });
});

describe('the link checker itself', () => {
  it('when headings carry code, punctuation, non-ASCII letters and repeats, then their anchors are GitHub slugs', () => {
    const anchors = headingAnchors(
      [
        '# mp3converter',
        '### gateway (port 8080; the Ingress serves it as `mp3converter.com`)',
        '## The CLI: `mp3c`',
        '## Über_den Fehler — 2',
        '```',
        '# not a heading, inside a code block',
        '```',
        '## Metrics',
        '## Metrics',
      ].join('\n'),
    );
    expect([...anchors]).toEqual([
      'mp3converter',
      'gateway-port-8080-the-ingress-serves-it-as-mp3convertercom',
      'the-cli-mp3c',
      'über_den-fehler--2',
      'metrics',
      'metrics-1',
    ]);
  });

  it('when links sit in prose, over a line break, in code spans and in code blocks, then only the prose ones are links', () => {
    const targets = linkTargets(
      [
        'See [the API](docs/api.md#login) and ![a picture](x.png).',
        'Not `[code](y.md)`, but [a link',
        'over two lines](w.md).',
        '```',
        '[block](z.md)',
        '```',
      ].join('\n'),
    );
    expect(targets).toEqual([
      { target: 'docs/api.md#login', number: 1 },
      { target: 'x.png', number: 1 },
      { target: 'w.md', number: 3 },
    ]);
  });
});

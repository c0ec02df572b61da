// Markdown (experiment notes) drawn as React elements from marked's tokens, never as an HTML string: raw HTML in
// the text is shown as the text it is, links only go to http(s), mailto or this site, and images become links
// (the CSP allows no image from elsewhere). marked is loaded on first use, so pages without notes never fetch it.
import { useEffect, useState, type ReactNode } from 'react';
import type { Token, Tokens } from 'marked';

type Lex = (src: string) => Token[];
let lexer: Lex | null = null;
let loading: Promise<Lex> | null = null;

function loadLexer(): Promise<Lex> {
  loading ??= import('marked').then((m) => (lexer = (src: string) => m.Lexer.lex(src, { gfm: true, breaks: false })));
  return loading;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', '#39': "'" };

/** marked keeps character references as written (`&amp;`); they are decoded to the characters they name. */
export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]+\d*);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/** An href the notes may link to: http(s), mailto, or a path on this site; anything else (javascript:, data:) is dropped. */
export function safeHref(href: string): string | null {
  const h = href.trim();
  if (!h) return null;
  try {
    const u = new URL(h, location.origin);
    if (u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'mailto:') return u.href;
  } catch {
    /* not a URL */
  }
  return null;
}

function inline(tokens: Token[] | undefined, key = ''): ReactNode[] {
  return (tokens ?? []).map((t, i) => inlineToken(t, `${key}${i}`));
}

function inlineToken(t: Token, k: string): ReactNode {
  switch (t.type) {
    case 'text':
    case 'escape': {
      const x = t as Tokens.Text;
      return x.tokens?.length ? <span key={k}>{inline(x.tokens, `${k}.`)}</span> : decodeEntities(x.text);
    }
    case 'strong':
      return <strong key={k}>{inline((t as Tokens.Strong).tokens, `${k}.`)}</strong>;
    case 'em':
      return <em key={k}>{inline((t as Tokens.Em).tokens, `${k}.`)}</em>;
    case 'del':
      return <del key={k}>{inline((t as Tokens.Del).tokens, `${k}.`)}</del>;
    case 'codespan':
      return <code key={k}>{decodeEntities((t as Tokens.Codespan).text)}</code>;
    case 'br':
      return <br key={k} />;
    case 'link': {
      const x = t as Tokens.Link;
      const href = safeHref(x.href);
      const body = inline(x.tokens, `${k}.`);
      if (!href) return <span key={k}>{body}</span>;
      const external = new URL(href).origin !== location.origin;
      return (
        <a key={k} href={href} title={x.title ?? undefined} {...(external ? { target: '_blank', rel: 'noopener noreferrer nofollow' } : {})}>
          {body}
        </a>
      );
    }
    case 'image': {
      const x = t as Tokens.Image;
      const href = safeHref(x.href);
      const label = `image: ${decodeEntities(x.text) || x.href}`;
      return href ? (
        <a key={k} href={href} target="_blank" rel="noopener noreferrer nofollow">
          {label}
        </a>
      ) : (
        label
      );
    }
    case 'html':
      // Raw HTML is text here: shown as it was typed.
      return (t as Tokens.HTML).text;
    case 'checkbox':
      return <input key={k} type="checkbox" checked={(t as Tokens.Checkbox).checked} disabled readOnly />;
    default:
      return 'raw' in t ? String((t as { raw: string }).raw) : null;
  }
}

function block(tokens: Token[], key = ''): ReactNode[] {
  return tokens.map((t, i) => blockToken(t, `${key}${i}`));
}

function blockToken(t: Token, k: string): ReactNode {
  switch (t.type) {
    case 'space':
    case 'def':
      return null;
    case 'heading': {
      const x = t as Tokens.Heading;
      const H = `h${Math.min(6, Math.max(1, x.depth))}` as 'h1';
      return <H key={k}>{inline(x.tokens, `${k}.`)}</H>;
    }
    case 'paragraph':
      return <p key={k}>{inline((t as Tokens.Paragraph).tokens, `${k}.`)}</p>;
    case 'text': {
      // Text directly in a (tight) list item.
      const x = t as Tokens.Text;
      return <span key={k}>{x.tokens ? inline(x.tokens, `${k}.`) : decodeEntities(x.text)}</span>;
    }
    case 'code':
      return (
        <pre key={k} className="md-code">
          <code>{(t as Tokens.Code).text}</code>
        </pre>
      );
    case 'blockquote':
      return <blockquote key={k}>{block((t as Tokens.Blockquote).tokens, `${k}.`)}</blockquote>;
    case 'hr':
      return <hr key={k} />;
    case 'list': {
      const x = t as Tokens.List;
      const items = x.items.map((it, j) => <li key={j}>{block(it.tokens, `${k}.${j}.`)}</li>);
      return x.ordered ? (
        <ol key={k} start={typeof x.start === 'number' ? x.start : undefined}>
          {items}
        </ol>
      ) : (
        <ul key={k}>{items}</ul>
      );
    }
    case 'table': {
      const x = t as Tokens.Table;
      const al = (a: string | null) => (a ? `al-${a}` : undefined);
      return (
        <table key={k} className="table md-table">
          <thead>
            <tr>
              {x.header.map((c, j) => (
                <th key={j} className={al(c.align)}>
                  {inline(c.tokens, `${k}.h${j}.`)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {x.rows.map((r, j) => (
              <tr key={j}>
                {r.map((c, m) => (
                  <td key={m} className={al(c.align)}>
                    {inline(c.tokens, `${k}.${j}.${m}.`)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      );
    }
    case 'html':
      return (
        <p key={k} className="md-raw">
          {(t as Tokens.HTML).text}
        </p>
      );
    default:
      return 'raw' in t ? <p key={k}>{String((t as { raw: string }).raw)}</p> : null;
  }
}

/** Renders `source` as markdown (until the parser has loaded, as plain text). */
export function Markdown({ source, testId }: { source: string; testId?: string }) {
  const [lex, setLex] = useState<Lex | null>(() => lexer);
  useEffect(() => {
    if (lex) return;
    let live = true;
    loadLexer().then(
      (l) => live && setLex(() => l),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [lex]);
  return (
    <div className="markdown" data-testid={testId} data-rendered={lex ? 'true' : undefined}>
      {lex ? block(lex(source)) : <p className="md-raw">{source}</p>}
    </div>
  );
}

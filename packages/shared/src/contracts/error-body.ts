/**
 * The gateway's error body (`{"error":{"code","message"}}`) as its clients read it, the CLI and the web page;
 * no zod, so a page can bundle it. Undefined for anything else (a proxy's page, an empty body).
 */
export function readErrorBody(text: string): { code: string; message: string } | undefined {
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof error?.code !== 'string') return undefined;
    return { code: error.code, message: typeof error.message === 'string' && error.message ? error.message : error.code };
  } catch {
    return undefined;
  }
}

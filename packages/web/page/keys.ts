import type { ApiKeyCreated, ApiKeyList, ApiKeyView } from '@mp3converter/shared/contracts/api-key-schemas';
import { API_KEY_SCOPES, type ApiKeyScope, MAX_API_KEY_NAME_LENGTH, apiKeyNameProblem } from '@mp3converter/shared/contracts/api-keys';
import { type Api, errorOf } from './api.js';
import { el } from './format.js';

const day = (iso: string | null) => (iso ? new Date(iso).toLocaleDateString() : '');

/** What a key's line says: its scopes and dates. */
export function describeKey(key: ApiKeyView): string {
  const expires = key.expired ? `expired ${day(key.expires_at)}` : key.expires_at ? `expires ${day(key.expires_at)}` : 'never expires';
  const used = key.last_used_at ? `last used ${day(key.last_used_at)}` : 'never used';
  return `${key.scopes.join(', ')} · created ${day(key.created_at)} · ${expires} · ${used}`;
}

/**
 * The API keys panel: the user's keys, a form to make one (shown once, to copy), a revoke button on each.
 * Read when the panel opens; a revoke takes two clicks, as a script that uses the key stops working at once.
 */
export class KeysPanel {
  private readonly list: HTMLUListElement;
  private readonly form: HTMLFormElement;
  private readonly error: HTMLElement;
  private readonly created: HTMLElement;
  private readonly secret: HTMLInputElement;
  /** Bumped by clear(): an answer to a request of an earlier session is dropped. */
  private generation = 0;

  constructor(
    private readonly root: HTMLDetailsElement,
    private readonly api: Api,
  ) {
    this.list = root.querySelector<HTMLUListElement>('#keys')!;
    this.form = root.querySelector<HTMLFormElement>('#key-form')!;
    this.error = root.querySelector<HTMLElement>('#key-error')!;
    this.created = root.querySelector<HTMLElement>('#key-created')!;
    this.secret = root.querySelector<HTMLInputElement>('#key-secret')!;
    root.querySelector<HTMLInputElement>('#key-name')!.maxLength = MAX_API_KEY_NAME_LENGTH;
    const scopes = root.querySelector<HTMLElement>('#key-scopes')!;
    for (const scope of API_KEY_SCOPES) {
      // Ticked by default (what form.reset() goes back to): upload and read, what most scripts need.
      const box = el('input', { type: 'checkbox', name: 'scope', value: scope, defaultChecked: scope !== 'delete' });
      scopes.append(el('label', { className: 'check' }, box, ` ${scope}`));
    }
    root.addEventListener('toggle', () => {
      if (root.open) void this.reload();
    });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.create();
    });
    root.querySelector('#key-copy')!.addEventListener('click', () => {
      this.secret.select();
      void navigator.clipboard?.writeText(this.secret.value).catch(() => undefined);
    });
  }

  /** Back to nothing shown: the next user at this browser sees none of this one's keys. */
  clear(): void {
    this.generation += 1;
    this.list.replaceChildren();
    this.hideSecret();
    this.error.textContent = '';
    this.form.reset();
    this.root.open = false;
  }

  async reload(): Promise<void> {
    const asked = this.generation;
    try {
      const { keys, limit } = await this.api.json<ApiKeyList>('/keys');
      if (asked !== this.generation) return;
      this.list.replaceChildren(...keys.map((key) => this.row(key)));
      this.list.dataset.limit = String(limit);
    } catch (err) {
      if (asked === this.generation) this.error.textContent = (err as Error).message;
    }
  }

  private async create(): Promise<void> {
    const data = new FormData(this.form);
    const name = String(data.get('name') ?? '').trim();
    const scopes = data.getAll('scope').map(String) as ApiKeyScope[];
    const until = String(data.get('expires') ?? '');
    const problem = apiKeyNameProblem(name);
    if (problem) return void (this.error.textContent = `The name ${problem}.`);
    if (scopes.length === 0) return void (this.error.textContent = 'Choose at least one scope.');
    this.error.textContent = '';
    const button = this.form.querySelector('button')!;
    button.disabled = true;
    const asked = this.generation;
    try {
      // A date chosen works through that whole day, where the browser is.
      const expires_at = until ? new Date(`${until}T23:59:59`).toISOString() : undefined;
      const res = await this.api.request('/keys', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, scopes, ...(expires_at ? { expires_at } : {}) }),
      });
      if (!res.ok) throw await errorOf(res);
      const key = (await res.json()) as ApiKeyCreated;
      if (asked !== this.generation) return;
      this.secret.value = key.key;
      this.created.hidden = false;
      this.secret.focus();
      this.secret.select();
      this.form.reset();
      await this.reload();
    } catch (err) {
      if (asked === this.generation) this.error.textContent = (err as Error).message;
    } finally {
      button.disabled = false;
    }
  }

  private hideSecret(): void {
    this.secret.value = '';
    this.created.hidden = true;
  }

  private row(key: ApiKeyView): HTMLLIElement {
    const row = el('li');
    row.dataset.keyId = key.id;
    const revoke = el('button', { type: 'button', className: 'secondary', textContent: 'Revoke' });
    revoke.setAttribute('aria-label', `Revoke the key ${key.name}`);
    let armed = false;
    revoke.addEventListener('click', async () => {
      if (!armed) {
        armed = true;
        revoke.textContent = 'Revoke: sure?';
        return;
      }
      revoke.disabled = true;
      try {
        const res = await this.api.request(`/keys/${encodeURIComponent(key.id)}`, { method: 'DELETE' });
        if (!res.ok && res.status !== 404) throw await errorOf(res);
        row.remove();
        // The key shown once may be the one revoked: it goes too.
        if (this.secret.value.startsWith(`mp3c_${key.id}_`)) this.hideSecret();
      } catch (err) {
        this.error.textContent = (err as Error).message;
        revoke.disabled = false;
      }
    });
    row.append(
      el('span', { className: 'name', textContent: key.name }),
      el('span', { className: 'state', textContent: describeKey(key) }),
      el('div', { className: 'actions' }, revoke),
    );
    return row;
  }
}

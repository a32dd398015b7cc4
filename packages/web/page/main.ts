import { Api, login } from './api.js';
import { followEvents } from './events.js';
import { el } from './format.js';
import { JobList } from './jobs.js';
import { KeysPanel } from './keys.js';
import { OptionsForm } from './options.js';
import { type RunningUpload, forgetResumableUploads, startUpload } from './uploads.js';

/** The token lives as long as the tab (sessionStorage): closing the tab logs out, a reload does not. */
const SESSION_KEY = 'mp3converter.session';
interface Session {
  email: string;
  token: string;
}
const loadSession = (): Session | null => {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') as Session | null;
  } catch {
    return null;
  }
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function main(): void {
  let session = loadSession();
  let stream: AbortController | undefined;
  const uploading = new Set<RunningUpload>();
  const loginView = $('login-view');
  const appView = $('app-view');
  const loginError = $('login-error');
  const jobsStatus = $('jobs-status');

  /**
   * Back to the login form. `forget` (the Log out button): nothing of this user stays for the next one at
   * this browser, so uploads stop and their rows and resume notes go. A session that merely ran out keeps
   * them: logging in again resumes.
   */
  const logout = (message = '', forget = false) => {
    stream?.abort();
    stream = undefined;
    session = null;
    if (forget) {
      for (const u of uploading) u.stop();
      uploading.clear();
      forgetResumableUploads();
    }
    sessionStorage.removeItem(SESSION_KEY);
    jobs.clear();
    keys.clear();
    $('session').hidden = true;
    appView.hidden = true;
    loginView.hidden = false;
    loginError.textContent = message;
    $<HTMLInputElement>('password').value = '';
    $('email').focus();
  };
  const expired = () => logout('Your session has ended: log in again.');
  const api = new Api(() => session?.token ?? '', expired);
  const downloadSelected = $<HTMLButtonElement>('download-selected');
  const selectionStatus = $('selection-status');
  const jobs = new JobList(
    $<HTMLUListElement>('jobs'),
    api,
    (message) => {
      jobsStatus.textContent = message;
    },
    (count) => {
      downloadSelected.disabled = count === 0;
      downloadSelected.textContent = count === 0 ? 'Download selected' : `Download selected (${count})`;
      selectionStatus.textContent = count === 0 ? 'Tick done jobs to download their MP3s as one ZIP.' : '';
    },
  );
  const options = new OptionsForm($('options'));
  const keys = new KeysPanel($<HTMLDetailsElement>('keys-panel'), api);

  const enter = (s: Session) => {
    session = s;
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
    $('session-user').textContent = s.email;
    $('session').hidden = false;
    loginView.hidden = true;
    appView.hidden = false;
    $('convert-title').setAttribute('tabindex', '-1');
    $('convert-title').focus();
    stream = new AbortController();
    void followEvents(
      {
        authorization: () => api.authorization,
        onUnauthorized: expired,
        onStatus: (connected) => {
          jobsStatus.textContent = connected ? '' : 'Reconnecting to live updates…';
        },
        onEvent: ({ event, data }) => {
          // `ready` opens a fresh stream: from here the list and the stream together miss nothing.
          if (event === 'ready') return void jobs.reload().catch((err: Error) => (jobsStatus.textContent = err.message));
          if (event !== 'job' || typeof data.video_fid !== 'string') return;
          if (data.type === 'progress') jobs.progress(data.video_fid, data);
          else if (data.type === 'position' && typeof data.position === 'number') jobs.position(data.video_fid, data.position);
          else void jobs.refresh(data.video_fid);
        },
      },
      stream.signal,
    );
  };

  $<HTMLFormElement>('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const email = $<HTMLInputElement>('email').value.trim();
    const password = $<HTMLInputElement>('password').value;
    if (!email || !password) {
      loginError.textContent = 'Enter your email and password.';
      return;
    }
    loginError.textContent = '';
    const button = (e.target as HTMLFormElement).querySelector('button')!;
    button.disabled = true;
    try {
      enter({ email, token: await login(email, password) });
    } catch (err) {
      loginError.textContent = (err as Error).message;
      $('password').focus();
    } finally {
      button.disabled = false;
    }
  });
  $('logout').addEventListener('click', () => logout('', true));
  // One ZIP of the ticked jobs, through a signed link: a plain link downloads it, streamed to disk by the
  // browser (a fetch would hold the whole ZIP in the tab's memory).
  downloadSelected.addEventListener('click', async () => {
    const fids = jobs.selection();
    if (fids.length === 0) return;
    downloadSelected.disabled = true;
    selectionStatus.textContent = 'Preparing the ZIP…';
    try {
      const link = el('a', { href: await api.zipLink(fids), download: '' });
      document.body.append(link);
      link.click();
      link.remove();
      selectionStatus.textContent = `Downloading ${fids.length} MP3${fids.length === 1 ? '' : 's'} as one ZIP.`;
    } catch (err) {
      selectionStatus.textContent = (err as Error).message;
    } finally {
      downloadSelected.disabled = jobs.selection().length === 0;
    }
  });

  const take = (files: Iterable<File>) => {
    const chosen = options.read();
    for (const file of files) {
      const running = startUpload(file, chosen, {
        list: $<HTMLUListElement>('uploads'),
        authorization: () => api.authorization,
        onUnauthorized: expired,
        onDone: (fid) => {
          uploading.delete(running);
          void jobs.refresh(fid);
        },
      });
      uploading.add(running);
    }
  };
  const input = $<HTMLInputElement>('files');
  input.addEventListener('change', () => {
    take(input.files ?? []);
    input.value = '';
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer?.files.length) take(e.dataTransfer.files);
  });

  if (session) enter(session);
  else logout();
}

main();

import { MP3_SAMPLE_RATES, MPEG1_BITRATES, MPEG2_BITRATES } from '@mp3converter/shared/contracts/mp3-formats';
import { el } from './format.js';

/** One option as JSON Schema describes it. */
export interface OptionSchema {
  type?: string | string[];
  enum?: (string | number)[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  title?: string;
  description?: string;
  examples?: unknown[];
}

/** The shared conversion options as JSON Schema, put into the bundle by build.mjs. */
declare const __CONVERSION_OPTIONS__: { properties?: Record<string, OptionSchema> };

/** `true_peak` → `True peak`. */
const labelOf = (key: string, option: OptionSchema) => option.title ?? `${key.charAt(0).toUpperCase()}${key.slice(1).replaceAll('_', ' ')}`;

const isNumber = ({ type }: OptionSchema) => type === 'number' || type === 'integer';

/** A control for an option the page has no field of its own for: a list for a few choices, else a box. */
function controlFor(key: string, option: OptionSchema): HTMLSelectElement | HTMLInputElement {
  if (option.enum) {
    const select = el('select', { name: key });
    select.append(new Option('Default', ''), ...option.enum.map((v) => new Option(String(v), String(v))));
    return select;
  }
  const input = el('input', { name: key, type: isNumber(option) ? 'number' : 'text', autocomplete: 'off' });
  if (isNumber(option)) {
    input.step = option.type === 'integer' ? '1' : 'any';
    if (option.minimum !== undefined) input.min = String(option.minimum);
    if (option.maximum !== undefined) input.max = String(option.maximum);
  } else if (option.maxLength !== undefined) input.maxLength = option.maxLength;
  const example = option.examples?.[0];
  if (typeof example === 'string' || typeof example === 'number') input.placeholder = String(example);
  return input;
}

/**
 * The output options form. Its first fields are the page's own (with lists from the shared contract); every
 * other option of the shared schema gets a field built from its JSON Schema, labelled from its name and
 * described by its description. The gateway checks the choice with the shared schema when the upload is
 * created and says what is wrong.
 */
export class OptionsForm {
  constructor(
    private readonly root: HTMLElement,
    schema: Record<string, OptionSchema> = __CONVERSION_OPTIONS__.properties ?? {},
  ) {
    const add = (id: string, values: readonly (string | number)[], label: (v: string | number) => string) => {
      const select = this.root.querySelector<HTMLSelectElement>(`#${id}`)!;
      for (const v of values) select.append(new Option(label(v), String(v)));
    };
    add('opt-quality', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], (q) => (q === 0 ? '0 (best, largest)' : q === 9 ? '9 (smallest)' : String(q)));
    add(
      'opt-bitrate',
      [...new Set([...MPEG2_BITRATES, ...MPEG1_BITRATES])].sort((a, b) => a - b),
      (b) => `${b} kbit/s`,
    );
    add('opt-sample-rate', MP3_SAMPLE_RATES, (r) => `${Number(r) / 1000} kHz`);

    const grid = this.root.querySelector('.grid')!;
    const named = new Set([...this.root.querySelectorAll<HTMLSelectElement | HTMLInputElement>('[name]')].map((c) => c.name));
    for (const [key, option] of Object.entries(schema)) {
      if (named.has(key)) continue;
      const control = controlFor(key, option);
      control.id = `opt-${key.replaceAll('_', '-')}`;
      const parts: Element[] = [el('label', { htmlFor: control.id, textContent: labelOf(key, option) }), control];
      if (option.description) {
        const hint = el('p', { id: `${control.id}-hint`, className: 'hint wide', textContent: option.description.replaceAll('`', '') });
        control.setAttribute('aria-describedby', hint.id);
        parts.push(hint);
      }
      grid.append(...parts);
    }
  }

  /** The options chosen, as the strings tus metadata carries. */
  read(): Record<string, string> {
    const values: Record<string, string> = {};
    for (const control of this.root.querySelectorAll<HTMLSelectElement | HTMLInputElement>('select[name], input[name]')) {
      const value = control.value.trim();
      if (value !== '') values[control.name] = value;
    }
    return values;
  }
}

import { MP3_SAMPLE_RATES, MPEG1_BITRATES, MPEG2_BITRATES } from '@mp3converter/shared/contracts/mp3-formats';

/**
 * The output options form, its lists from the shared contract. The gateway checks the choice with the shared
 * schema when the upload is created and says what is wrong (the page leaves zod out of its bundle).
 */
export class OptionsForm {
  constructor(private readonly root: HTMLElement) {
    const add = (id: string, values: readonly (string | number)[], label: (v: string | number) => string) => {
      const select = this.select(id);
      for (const v of values) select.append(new Option(label(v), String(v)));
    };
    add('opt-quality', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], (q) => (q === 0 ? '0 (best, largest)' : q === 9 ? '9 (smallest)' : String(q)));
    add(
      'opt-bitrate',
      [...new Set([...MPEG2_BITRATES, ...MPEG1_BITRATES])].sort((a, b) => a - b),
      (b) => `${b} kbit/s`,
    );
    add('opt-sample-rate', MP3_SAMPLE_RATES, (r) => `${Number(r) / 1000} kHz`);
  }

  private select(id: string): HTMLSelectElement {
    return this.root.querySelector<HTMLSelectElement>(`#${id}`)!;
  }

  /** The options chosen, as the strings tus metadata carries. */
  read(): Record<string, string> {
    const values: Record<string, string> = {};
    for (const select of this.root.querySelectorAll('select')) if (select.value !== '') values[select.name] = select.value;
    return values;
  }
}

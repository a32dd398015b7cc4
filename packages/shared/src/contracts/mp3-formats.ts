/** The MP3 formats LAME writes; apart from the schemas so that a browser page can list them without zod. */

/** LAME's sample rates: MPEG-1 (32–48 kHz), MPEG-2 (16–24 kHz) and MPEG-2.5 (8–12 kHz). */
export const MP3_SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000] as const;
/** Constant bitrates, kbit/s, of MPEG-1 Layer III (sample rates of 32 kHz and up). */
export const MPEG1_BITRATES = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320] as const;
/** Constant bitrates, kbit/s, of MPEG-2 and 2.5 Layer III (sample rates under 32 kHz). */
export const MPEG2_BITRATES = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160] as const;

import { z } from 'zod';

/**
 * The JSON body `POST /login` takes instead of HTTP Basic (as one of the original READMEs documents): read by
 * auth, passed through unchanged by the gateway. Other fields are ignored.
 */
export const loginBodySchema = z
  .object({
    email: z.string().meta({ examples: ['georgio@email.com'] }),
    password: z.string(),
  })
  .meta({ id: 'LoginBody', description: 'Credentials as JSON, the alternative to HTTP Basic.' });
export type LoginBody = z.infer<typeof loginBodySchema>;

import { type Credentials, MAX_EMAIL_LENGTH, MAX_PASSWORD_BYTES, normalizeEmail } from './credentials.js';

export interface UserRecord {
  id: number;
  email: string;
  /** An argon2id PHC string, or a legacy clear-text password left by the original's init.sql. */
  passwordHash: string;
  admin: boolean;
}

export interface UserRepository {
  findByEmail(email: string): Promise<UserRecord | undefined>;
  /** Inserts the user; resolves false when the email already exists. */
  create(user: { email: string; passwordHash: string; admin: boolean }): Promise<boolean>;
  updatePasswordHash(id: number, passwordHash: string): Promise<void>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(stored: string, password: string): Promise<boolean>;
  /** True for stored values that are not hashed with the current parameters (clear text included). */
  needsRehash(stored: string): boolean;
}

/** The JWT claims, the original's four. */
export interface Claims {
  username: string;
  admin: boolean;
  iat: number;
  exp: number;
}

export interface TokenIssuer {
  issue(subject: { username: string; admin: boolean }): string;
  /** Throws InvalidTokenError for anything but a well-formed, unexpired HS256 token with our claims. */
  verify(token: string): Claims;
}

export class InvalidCredentialsError extends Error {
  constructor() {
    super('invalid credentials');
    this.name = 'InvalidCredentialsError';
  }
}

export class InvalidTokenError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidTokenError';
  }
}

export class AuthService {
  /**
   * A real hash of a random password, verified when the user does not exist, so that an unknown email
   * costs the same time as a wrong password and response times do not reveal which emails are registered.
   */
  private decoyHash: Promise<string>;

  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenIssuer,
  ) {
    this.decoyHash = hasher.hash(`decoy-${Math.random()}`);
  }

  async login({ email, password }: Credentials): Promise<string> {
    const normalized = normalizeEmail(email);
    const plausible =
      normalized.length > 0 && normalized.length <= MAX_EMAIL_LENGTH && password.length > 0 && Buffer.byteLength(password) <= MAX_PASSWORD_BYTES;
    const user = plausible ? await this.users.findByEmail(normalized) : undefined;
    if (!user) {
      await this.hasher.verify(await this.decoyHash, plausible ? password : 'x');
      throw new InvalidCredentialsError();
    }
    if (!(await this.hasher.verify(user.passwordHash, password))) throw new InvalidCredentialsError();
    if (this.hasher.needsRehash(user.passwordHash)) {
      await this.users.updatePasswordHash(user.id, await this.hasher.hash(password));
    }
    return this.tokens.issue({ username: user.email, admin: user.admin });
  }

  validate(token: string): Claims {
    return this.tokens.verify(token);
  }

  /** Adds a user; false when the email is taken. Used by the seed and the CLI. */
  async addUser(email: string, password: string, admin: boolean): Promise<boolean> {
    const normalized = normalizeEmail(email);
    if (normalized.length === 0 || normalized.length > MAX_EMAIL_LENGTH || !normalized.includes('@')) {
      throw new RangeError('email must be an address of at most 255 characters');
    }
    if (password.length === 0 || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
      throw new RangeError(`password must be 1 to ${MAX_PASSWORD_BYTES} bytes`);
    }
    return this.users.create({ email: normalized, passwordHash: await this.hasher.hash(password), admin });
  }
}

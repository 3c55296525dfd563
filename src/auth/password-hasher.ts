import { Injectable } from '@nestjs/common';
import { hash, verify } from '@node-rs/argon2';

/** argon2id (the library's default algorithm) with its default cost: 19 MiB, 2 passes (OWASP's baseline). */
@Injectable()
export class PasswordHasher {
  /** Verified against when the email is unknown, so both failures take the same time. */
  private readonly decoy = hash('decoy-password-for-timing');

  hash(password: string): Promise<string> {
    return hash(password);
  }

  async verify(hashed: string | undefined, password: string): Promise<boolean> {
    try {
      return await verify(hashed ?? (await this.decoy), password);
    } catch {
      return false;
    }
  }
}

import { Injectable } from '@nestjs/common';

/** Set when a graceful shutdown begins: from then on readiness answers 503. */
@Injectable()
export class ShutdownState {
  private draining = false;

  get isDraining(): boolean {
    return this.draining;
  }

  beginDraining(): void {
    this.draining = true;
  }
}

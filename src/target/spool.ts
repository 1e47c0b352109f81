/** Spool files: COPY text written by the mapper, read back by the loader; private and gone with the process. */
import { randomUUID } from "node:crypto";
import { closeSync, createReadStream, createWriteStream, openSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";

/**
 * A temporary file only this process can reach: it is unlinked right after it is opened (mode
 * 0600), so tokens and hashes written to it vanish with the process, even after `kill -9`.
 */
export class Spool {
  private readonly fd: number;
  private closed = false;

  constructor(name: string) {
    const path = join(tmpdir(), `syn2mas-${randomUUID()}-${name}`);
    this.fd = openSync(path, "wx+", 0o600);
    unlinkSync(path);
  }

  writer(): Writable {
    return createWriteStream("", { fd: this.fd, autoClose: false });
  }

  reader(): Readable {
    return createReadStream("", { fd: this.fd, autoClose: false, start: 0 });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

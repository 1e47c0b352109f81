/** Spool files: COPY text written by the mapper, read back by the loader; private and gone with the process. */
import { randomUUID } from "node:crypto";
import { closeSync, openSync, read, unlinkSync, write } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";

/** Bytes per read when the loader streams a spool back. */
const READ_BYTES = 256 * 1024;

/**
 * A temporary file only this process can reach: it is unlinked right after it is opened (mode
 * 0600), so tokens and hashes written to it vanish with the process, even after `kill -9`.
 *
 * The spool alone owns its descriptor: its streams read and write at positions and never close
 * it (Node's file streams close the descriptor when destroyed, even with autoClose off, which
 * made a second close fail with EBADF when a COPY failed), and {@link close} waits for reads and
 * writes still running in the thread pool before closing it.
 */
export class Spool {
  private readonly fd: number;
  private written = 0;
  private running = 0;
  private closing = false;
  private closed = false;

  constructor(name: string) {
    const path = join(tmpdir(), `syn2mas-${randomUUID()}-${name}`);
    this.fd = openSync(path, "wx+", 0o600);
    unlinkSync(path);
  }

  /** Appends to the file. */
  writer(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.writeAll(chunk).then(() => callback(), callback);
      },
    });
  }

  /** Reads the file from its start; ends at its end as it is now. */
  reader(): Readable {
    let position = 0;
    const stream: Readable = new Readable({
      read: () => {
        const buffer = Buffer.allocUnsafe(READ_BYTES);
        this.io<number>((done) => read(this.fd, buffer, 0, READ_BYTES, position, done)).then(
          (bytes) => {
            position += bytes;
            stream.push(bytes === 0 ? null : buffer.subarray(0, bytes));
          },
          (error: Error) => stream.destroy(error),
        );
      },
    });
    return stream;
  }

  /** Closes the file once no read or write is running on it; safe to call twice. */
  close(): void {
    this.closing = true;
    this.closeIfIdle();
  }

  private async writeAll(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length;) {
      const at = this.written;
      const bytes = await this.io<number>((done) => write(this.fd, chunk, offset, chunk.length - offset, at, done));
      offset += bytes;
      this.written += bytes;
    }
  }

  /** Runs one operation on the descriptor, counted so that {@link close} waits for it. */
  private io<T>(start: (done: (error: Error | null, result: T) => void) => void): Promise<T> {
    if (this.closing) return Promise.reject(new Error("the spool file is closed"));
    this.running++;
    return new Promise<T>((resolve, reject) => {
      start((error, result) => {
        this.running--;
        this.closeIfIdle();
        if (error) reject(error);
        else resolve(result);
      });
    });
  }

  private closeIfIdle(): void {
    if (!this.closing || this.closed || this.running > 0) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

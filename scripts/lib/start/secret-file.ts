import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { displayPath, StartError } from './output.ts';

/** Reads a generated secret kept in `file`, or creates it (32 random bytes, base64url, mode 0600). */
export async function readOrCreateSecret(file: string): Promise<{ value: string; created: boolean }> {
  try {
    const value = (await fs.readFile(file, 'utf8')).trim();
    if (value.length < 16)
      throw new StartError(`${displayPath(file)} holds fewer than 16 characters: delete it`);
    const { mode } = await fs.stat(file);
    if ((mode & 0o077) !== 0) await fs.chmod(file, 0o600);
    return { value, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const value = randomBytes(32).toString('base64url');
  try {
    await fs.writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another `npm start` on the same DATA_DIR won the race: use its secret.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readOrCreateSecret(file);
    throw err;
  }
  return { value, created: true };
}

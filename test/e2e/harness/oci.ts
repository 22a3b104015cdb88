import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** A single-platform image written into an OCI image layout. */
export interface OciImage {
  /** `oci:<dir>:<tag>`, a skopeo source reference. */
  ref: string;
  dir: string;
  tag: string;
  /** `sha256:…` of the image manifest; a registry keeps it on push, so pulls can be compared to it. */
  digest: string;
  configDigest: string;
  layerDigest: string;
  /** The random text in the layer's one file. */
  content: string;
}

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const GOARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
};

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Writes a NUL-padded field into a tar header. */
function field(header: Buffer, offset: number, length: number, value: string): void {
  header.write(value.slice(0, length), offset, length, 'ascii');
}

/** Octal number field, NUL-terminated, as ustar wants it. */
function octal(header: Buffer, offset: number, length: number, value: number): void {
  field(header, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

/** A ustar archive holding one regular file (POSIX.1-1988 header layout). */
function tarOneFile(name: string, body: Buffer, mtime: number): Buffer {
  const header = Buffer.alloc(512);
  field(header, 0, 100, name);
  octal(header, 100, 8, 0o644); // mode
  octal(header, 108, 8, 0); // uid
  octal(header, 116, 8, 0); // gid
  octal(header, 124, 12, body.length);
  octal(header, 136, 12, mtime);
  field(header, 148, 8, ' '.repeat(8)); // checksum counts as spaces while it is computed
  field(header, 156, 1, '0'); // regular file
  field(header, 257, 6, 'ustar\0');
  field(header, 263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  // Two zero blocks end the archive.
  return Buffer.concat([header, body, padding, Buffer.alloc(1024)]);
}

async function writeBlob(dir: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
  return digest;
}

interface IndexJson {
  schemaVersion: 2;
  manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
}

/**
 * Builds a tiny valid image (one gzip'd layer holding `/regauth-test.txt` with random content, so
 * every image has its own digest) into the OCI layout at `dir`, tagged `tag`. The directory is
 * created if needed; an existing layout keeps its other tags.
 */
export async function buildOciImage(dir: string, tag: string): Promise<OciImage> {
  if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw new TypeError(`invalid tag ${JSON.stringify(tag)}`);
  // skopeo splits the reference on ':'; a colon in the path would be read as the tag.
  if (dir.includes(':')) throw new TypeError(`OCI layout path must not contain ':': ${dir}`);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  const content = `${randomBytes(16).toString('hex')}\n`;
  const now = Math.floor(Date.now() / 1000);
  const tar = tarOneFile('regauth-test.txt', Buffer.from(content), now);
  const layer = gzipSync(tar);
  const layerDigest = await writeBlob(dir, layer);

  const config = Buffer.from(
    JSON.stringify({
      created: new Date(now * 1000).toISOString(),
      architecture: GOARCH[process.arch] ?? process.arch,
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    }),
  );
  const configDigest = await writeBlob(dir, config);

  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length },
      ],
    }),
  );
  const digest = await writeBlob(dir, manifest);

  const indexPath = join(dir, 'index.json');
  let index: IndexJson = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8')) as IndexJson;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const REF_NAME = 'org.opencontainers.image.ref.name';
  index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag);
  index.manifests.push({
    mediaType: MANIFEST_TYPE,
    digest,
    size: manifest.length,
    annotations: { [REF_NAME]: tag },
  });
  await writeFile(indexPath, JSON.stringify(index));

  return { ref: `oci:${dir}:${tag}`, dir, tag, digest, configDigest, layerDigest, content };
}

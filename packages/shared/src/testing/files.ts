import { GridFSBucket, type MongoClient, ObjectId } from 'mongodb';

/**
 * Writes `data` into GridFS database `database` (bucket `fs`). Without `filename` and `metadata` the file
 * looks exactly like one the original's services stored: `_id`, `length`, `chunkSize`, `uploadDate` only.
 */
export async function storeGridFsFile(
  mongo: MongoClient,
  database: string,
  data: Buffer,
  { filename, metadata, id = new ObjectId() }: { filename?: string; metadata?: Record<string, unknown>; id?: ObjectId } = {},
): Promise<string> {
  const bucket = new GridFSBucket(mongo.db(database));
  await new Promise<void>((resolve, reject) => {
    const up = bucket.openUploadStreamWithId(id, filename ?? '', metadata ? { metadata } : {});
    up.on('finish', () => resolve()).on('error', reject);
    up.end(data);
  });
  if (filename === undefined)
    await mongo
      .db(database)
      .collection('fs.files')
      .updateOne({ _id: id }, { $unset: { filename: '' } });
  return id.toHexString();
}

/** Reads a whole GridFS file into memory (small test files only). */
export async function readGridFsFile(mongo: MongoClient, database: string, id: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of new GridFSBucket(mongo.db(database)).openDownloadStream(new ObjectId(id))) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

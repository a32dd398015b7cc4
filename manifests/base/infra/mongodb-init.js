// Run once by the mongo image, on the first start with an empty volume (/docker-entrypoint-initdb.d), as
// the root user: one user per service, with only the roles it needs. Passwords come from mongodb-secret.
const users = [
  // uploads videos, serves and deletes MP3s, keeps the jobs (in `videos`) and the webhook endpoints
  {
    user: 'gateway',
    env: 'MONGODB_GATEWAY_PASSWORD',
    roles: [
      { role: 'readWrite', db: 'videos' },
      { role: 'readWrite', db: 'mp3s' },
      { role: 'readWrite', db: 'webhooks' },
    ],
  },
  // reads videos, writes MP3s, leases jobs
  {
    user: 'converter',
    env: 'MONGODB_CONVERTER_PASSWORD',
    roles: [
      { role: 'readWrite', db: 'videos' },
      { role: 'readWrite', db: 'mp3s' },
    ],
  },
  // keeps what it sent; reads jobs and files to write the email
  {
    user: 'notification',
    env: 'MONGODB_NOTIFICATION_PASSWORD',
    roles: [
      { role: 'readWrite', db: 'notifications' },
      { role: 'read', db: 'videos' },
      { role: 'read', db: 'mp3s' },
    ],
  },
  // makes the deliveries of the webhook endpoints; reads nothing else
  {
    user: 'webhooks',
    env: 'MONGODB_WEBHOOKS_PASSWORD',
    roles: [{ role: 'readWrite', db: 'webhooks' }],
  },
];
const admin = db.getSiblingDB('admin');
for (const { user, env, roles } of users) {
  const pwd = process.env[env];
  if (!pwd) throw new Error(`${env} is not set`);
  admin.createUser({ user, pwd, roles });
}

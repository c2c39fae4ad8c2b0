// s3rver (an S3 server in Node, not moto) on 127.0.0.1 for tests/fakes/s3rver.py:
// node s3rver.js <module dir> <data dir> <bucket> [<key.pem> <cert.pem>]
// prints the port it listens on, then serves until stdin closes.
const fs = require('fs');
const [moduleDir, directory, bucket, key, cert] = process.argv.slice(2);
const S3rver = require(moduleDir);
const options = {
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  vhostBuckets: false,
  configureBuckets: [{ name: bucket }],
};
if (key) {
  options.key = fs.readFileSync(key);
  options.cert = fs.readFileSync(cert);
}
new S3rver(options).run().then(({ port }) => {
  process.stdout.write(`${port}\n`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));

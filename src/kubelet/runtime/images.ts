// Image names the process runtime understands. There are no image files to unpack, so each
// well-known image maps to what its ENTRYPOINT (`command`) and CMD (`args`) would run on this
// host: shells and interpreters from the host, and small Node.js stand-ins for the web servers
// the workshop's manifests use (src/kubelet/runtime/process/images/server.ts).
import { compiledFile } from '../../machinery/install.js';

export interface ImageEntrypoint {
  /** The image's ENTRYPOINT (may be empty). */
  command: string[];
  /** The image's CMD: replaced by the container's args when it has some. */
  args: string[];
  workingDir?: string;
  description: string;
}

const SERVER = compiledFile('kubelet/runtime/process/images/server.js');

/** Splits `registry/repo/name:tag@digest` into the Docker Hub-normalized name and tag. */
export function parseImageRef(image: string): { name: string; tag: string } {
  let ref = image.trim();
  const at = ref.indexOf('@');
  if (at >= 0) ref = ref.slice(0, at);
  let tag = 'latest';
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) {
    tag = ref.slice(colon + 1);
    ref = ref.slice(0, colon);
  }
  ref = ref.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '').replace(/^library\//, '');
  return { name: ref.toLowerCase(), tag };
}

function server(site: string, description: string, extra: string[] = []): ImageEntrypoint {
  // Small heaps keep the per-replica cost down; the server holds no data.
  return { command: [process.execPath, '--max-old-space-size=32', '--max-semi-space-size=1', SERVER, `--site=${site}`, ...extra], args: [], description };
}

const TOMCAT_VERSIONS: Record<string, string> = { '8': '8.5.69', '9': '9.0.12', '9.0.52': '9.0.52', '10': '10.0.8', latest: '9.0.12' };

const OSHELL_LOOP =
  'while true; do line="$(date):Omega GB Volume Test for $POD_IP : File = $POD_IP.txt"; ' +
  'echo "$line" >> "$POD_IP.txt"; echo "$line"; sleep 2; done';

export function resolveImage(image: string): ImageEntrypoint | undefined {
  const { name, tag } = parseImageRef(image);
  const last = name.slice(name.lastIndexOf('/') + 1);
  switch (name) {
    case 'busybox':
    case 'alpine':
    case 'alpine/git':
    case 'metamagic/podshell':
      return { command: [], args: ['sh'], description: `${name}: the host's /bin/sh and tools` };
    case 'ubuntu':
    case 'debian':
    case 'registry.access.redhat.com/ubi8/ubi':
    case 'registry.access.redhat.com/ubi8/ubi-minimal':
      return { command: [], args: ['bash'], description: `${name}: the host's bash and tools` };
    case 'metamagic/oshell':
      return { command: ['sh', '-c', OSHELL_LOOP], args: [], workingDir: '/home/data', description: 'oshell: appends a line to <POD_IP>.txt every 2 s' };
    case 'node':
      return { command: [], args: ['node'], description: `node:${tag}: the host's Node.js ${process.version}` };
    case 'python':
      return { command: [], args: ['python3'], description: `python:${tag}: the host's python3` };
    case 'perl':
      return { command: [], args: ['perl'], description: `perl:${tag}: the host's perl` };
    case 'k8s.gcr.io/pause':
    case 'registry.k8s.io/pause':
    case 'gcr.io/google_containers/pause':
      return { command: ['sleep', '2147483647'], args: [], description: 'pause: sleeps forever' };
    case 'nginx':
    case 'k8s.gcr.io/nginx-slim':
    case 'registry.k8s.io/nginx-slim':
      return server('nginx', `${name}: a static "Welcome to nginx!" server on :80`);
    case 'httpd':
      return server('httpd', 'httpd: a static "It works!" server on :80');
    case 'metamagicglobal/hello':
      return server('hello', `hello:${tag}: "Hello world" page on :80`, [`--version=${tag}`]);
    case 'metamagic/hello':
      // The seed's slide 46 hello-world image, exposed with --port=8080.
      return server('hello', `hello:${tag}: "Hello world" page on :8080`, [`--version=${tag}`, '--port=8080']);
    case 'metamagicglobal/k8uiworkshop':
      return server('ui', `k8uiworkshop:${tag}: the Shopping Portal UI on :80 under /ui/`, [`--version=${tag}`]);
    case 'metamagic/omega':
    case 'metamagic/sigma':
    case 'metamagic/lambda':
    case 'metamagic/kappa':
      return server('site', `${last}: static web site on :80`, [`--name=${last}`]);
    case 'metamagic/tomcat':
    case 'metamagic/podshelltomcat':
      return server('tomcat', `tomcat:${tag}: Tomcat-like pages on :8080`, [`--version=${TOMCAT_VERSIONS[tag] ?? tag}`]);
    case 'hashicorp/http-echo':
    case 'metamagic/echo':
      return server('http-echo', 'http-echo: answers every path with -text on -listen (:5678)');
    case 'gcr.io/knative-samples/helloworld-go':
      return server('helloworld', 'helloworld-go: "Hello $TARGET!" on :8080');
    case 'metamagicglobal/config-wk':
      return server('spring', 'config server on :6061', ['--port=6061']);
    case 'metamagicglobal/sd-wk':
      return server('spring', 'Eureka server on :7070', ['--port=7070']);
    case 'metamagicglobal/pdt-wk':
      return server('spring', 'product service on :8081', ['--port=8081']);
    case 'metamagicglobal/productms':
    case 'metamagicglobal/productmswithoutdb':
      return server('productms', 'product service on :8082 (/productms)');
    case 'metamagicglobal/productreviewms':
      return server('productreviewms', 'review service on :8082 (/productreviewms)');
    case 'metamagic/mock-cart':
    case 'metamagic/mock-order':
    case 'metamagic/mock-payment':
      return server('mock', `${last} on :9090 (/api/v1/${last.slice(5)})`, [`--name=${last.slice(5)}`]);
    default:
      return undefined;
  }
}

/**
 * What a container runs, by upstream's rules: its command (with its args) replaces the image's
 * ENTRYPOINT and CMD; args alone replace only the CMD. An error says why nothing can run.
 */
export function resolveEntrypoint(
  image: string,
  command: string[],
  args: string[],
): { argv: string[]; workingDir?: string } | { error: string } {
  if (command.length > 0) return { argv: [...command, ...args] };
  const img = resolveImage(image);
  if (!img) return { error: `image "${image}" has no entrypoint known to the process runtime; give the container a command` };
  const argv = [...img.command, ...(args.length > 0 ? args : img.args)];
  if (argv.length === 0) return { error: `image "${image}": no command specified` };
  return { argv, workingDir: img.workingDir };
}

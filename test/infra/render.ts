/**
 * Prints an overlay as the infra tests render it (for a look, or to diff against
 * `kubectl kustomize`): node test/infra/render.ts infra/k8s/overlays/dev
 */
import { stringify } from 'yaml';
import { renderKustomization } from './support/kustomize.ts';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node test/infra/render.ts <kustomization directory>\n');
  process.exit(2);
}
process.stdout.write(
  renderKustomization(dir)
    .map((object) => stringify(object))
    .join('---\n'),
);

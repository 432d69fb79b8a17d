/**
 * cdk-nag 3 acknowledgements. cdk-nag 3 runs as a CDK validation plugin and reads
 * acknowledgements from `Validations.of(construct)`; an acknowledgement covers the
 * construct and everything under it, and names one finding exactly
 * (`AwsSolutions-IAM5[Resource::...]`), so each finding carries its own reason.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Why the functions stay on Node.js 22 although cdk-nag L1 asks for the newest runtime. */
export const NODE22_REASON = 'Node.js 22 is the runtime the handlers are built and tested for (docs/architecture.md "Runtime versions"); moving to a newer one is a deliberate upgrade.';

export function acknowledgeNag(scope: IConstruct, reason: string, ...ids: string[]): void {
  Validations.of(scope).acknowledge(...ids.map((id) => ({ id, reason })));
}

/**
 * How cdk-nag spells a resource in a finding id: intrinsics resolved to `<Ref>` /
 * `<LogicalId.Attr>`, joins flattened. Lets an acknowledgement name the exact
 * finding of a resource this code granted, instead of a hand-copied string.
 */
export function nagResource(scope: IConstruct, value: string): string {
  const render = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('Ref' in o) return `<${String(o.Ref)}>`;
      if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
      if ('Fn::Join' in o) {
        const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
        return parts.map(render).join(sep);
      }
    }
    return JSON.stringify(v);
  };
  return render(Stack.of(scope).resolve(value));
}

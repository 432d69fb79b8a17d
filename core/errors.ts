/** A pipeline definition that breaks a rule. Thrown at load time, never in production. */
export class PipelineDefinitionError extends Error {
  constructor(
    readonly pipeline: string,
    readonly path: string,
    readonly rule: string,
  ) {
    super(`Pipeline "${pipeline}": ${path}: ${rule}`);
    this.name = 'PipelineDefinitionError';
  }
}

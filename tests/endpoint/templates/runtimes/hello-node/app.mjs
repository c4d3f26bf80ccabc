// As sam init's hello-world (nodejs20.x), trimmed: an ES module, an async handler.
export const lambdaHandler = async (event, context) => ({
  statusCode: 200,
  body: JSON.stringify({
    message: "hello world",
    stage: process.env.STAGE,
    executionEnv: process.env.AWS_EXECUTION_ENV,
    memory: context.memoryLimitInMB,
    path: event.path ?? null,
  }),
});

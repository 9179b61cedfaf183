/**
 * Fake credentials in the shapes real ones take, one per rule, each in the context a tool would print
 * it in. Built from pieces so no scanner mistakes this file for a leak.
 */
const rep = (s: string, n: number) => s.repeat(Math.ceil(n / s.length)).slice(0, n);
const b64 = (s: string) => Buffer.from(s).toString("base64");

export interface Sample {
  readonly kind: string;
  /** The secret itself; it must not survive redaction, in whole or in part. */
  readonly secret: string;
  /** The text it appears in. */
  readonly text: string;
}

const pemBody = rep("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7", 64 * 5);
const pem = `-----BEGIN RSA PRIVATE KEY-----\n${pemBody.match(/.{1,64}/g)!.join("\n")}\n-----END RSA PRIVATE KEY-----`;
const jwt = `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.${b64('{"sub":"1234567890","name":"Jo","iat":1516239022}').replace(/=+$/, "")}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`;

export const SAMPLES: readonly Sample[] = [
  {
    kind: "aws_access_key",
    secret: "AKIAIOSFODNN7EXAMPLE",
    text: "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
  },
  { kind: "aws_access_key", secret: "ASIAY34FZKBOKMUTVV7A", text: "AccessKeyId: ASIAY34FZKBOKMUTVV7A\n" },
  {
    kind: "aws_secret_key",
    secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    text: "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  },
  {
    kind: "gcp_api_key",
    secret: `AIza${"SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"}`,
    text: `key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY&q=x`,
  },
  {
    kind: "gcp_oauth_secret",
    secret: `GOCSPX-${"1mVwFTjGIXgs2BC2uHzskqP4g3Vn"}`,
    text: `"client_secret":"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"`,
  },
  {
    kind: "azure_storage_key",
    secret: `${rep("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq", 86)}==`,
    text: `DefaultEndpointsProtocol=https;AccountName=devstore;AccountKey=${rep("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq", 86)}==;EndpointSuffix=core.windows.net`,
  },
  {
    kind: "azure_client_secret",
    secret: "abc8Q~Xyz1234567890abcdefghijKLMNOPqrst",
    text: "AZURE_CLIENT_SECRET abc8Q~Xyz1234567890abcdefghijKLMNOPqrst",
  },
  {
    kind: "github_token",
    secret: `ghp_${"R2d2C3poBb8Ewok5Yoda9Luke1Leia7Han0S"}`,
    text: "git remote: ghp_R2d2C3poBb8Ewok5Yoda9Luke1Leia7Han0S",
  },
  {
    kind: "github_token",
    secret: `github_pat_${"11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV0123456789abcd"}`,
    text: "token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV0123456789abcd in env",
  },
  {
    kind: "gitlab_token",
    secret: `glpat-${"xR7bT2kLm9Qw3ZpN8vYc"}`,
    text: "PRIVATE-TOKEN: glpat-xR7bT2kLm9Qw3ZpN8vYc",
  },
  {
    kind: "slack_token",
    secret: `xoxb-${"2400199987-2617364923409-q9Wm3ZkR8vTn5Yp2Lc7Xb4Jd"}`,
    text: "SLACK xoxb-2400199987-2617364923409-q9Wm3ZkR8vTn5Yp2Lc7Xb4Jd ok",
  },
  {
    kind: "slack_webhook",
    secret: "T0A1B2C3D/B4E5F6G7H/abcdEFGHijklMNOPqrstUVWX",
    text: "curl https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/abcdEFGHijklMNOPqrstUVWX",
  },
  {
    kind: "stripe_key",
    secret: `sk_live_${"51H8kLmN2oPqRsTuVwXyZ0a1B2c3D4e5"}`,
    text: "Stripe.apiKey = 'sk_live_51H8kLmN2oPqRsTuVwXyZ0a1B2c3D4e5';",
  },
  {
    kind: "anthropic_api_key",
    secret: `sk-ant-api03-${rep("Zq8xWv2Lm7Nk4Jh9Gf3Dd1Ss6Aa0Pp5Oo", 93)}AA`,
    text: `export ANTHROPIC_KEY=sk-ant-api03-${rep("Zq8xWv2Lm7Nk4Jh9Gf3Dd1Ss6Aa0Pp5Oo", 93)}AA`,
  },
  {
    kind: "openai_api_key",
    secret: `sk-proj-${rep("Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7", 48)}`,
    text: `OPENAI: sk-proj-${rep("Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7", 48)}\n`,
  },
  { kind: "jwt", secret: jwt, text: `Cookie: session=${jwt}; Path=/` },
  { kind: "private_key", secret: pemBody.slice(0, 64), text: `id_rsa:\n${pem}\n-- end of file` },
  {
    kind: "url_password",
    secret: "s3cr3tP4ss",
    text: "DATABASE_URL=postgres://app:s3cr3tP4ss@db.internal:5432/app",
  },
  { kind: "password", secret: "Hunter2!x", text: "Server=db;User Id=sa;Password=Hunter2!x;Encrypt=true" },
  { kind: "password", secret: "Sup3rS3cret", text: "mysqldump -uroot -pSup3rS3cret appdb > dump.sql" },
  { kind: "password", secret: "correct-horse", text: "psql-admin --password=correct-horse --host x" },
  {
    kind: "auth_header",
    secret: "d2VsY29tZTpvcGVuLXNlc2FtZQ==",
    text: "Authorization: Basic d2VsY29tZTpvcGVuLXNlc2FtZQ==",
  },
  {
    kind: "auth_header",
    secret: "mF_9.B5f-4.1JqM_Zz7Yx3Wv",
    text: `curl -H "Authorization: Bearer mF_9.B5f-4.1JqM_Zz7Yx3Wv" https://api.example.com`,
  },
  { kind: "generic_secret", secret: "Zk9$qL2#vN8@wR5x", text: 'client_secret: "Zk9$qL2#vN8@wR5x"' },
  { kind: "generic_secret", secret: "a8F3kQ9zL1mX7pR2", text: "MY_SERVICE_API_KEY=a8F3kQ9zL1mX7pR2" },
  {
    kind: "npm_token",
    secret: `npm_${"a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"}`,
    text: "//registry.npmjs.org/:_authToken=npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
  },
];

/** Ordinary text a redactor must leave alone. */
export const BENIGN: readonly string[] = [
  "The password field must be at least 12 characters.",
  `Set the token in your environment, e.g. GITHUB_TOKEN=${"$"}{GITHUB_TOKEN}.`,
  "password: <your password here>",
  "api_key = os.environ['API_KEY']",
  "Bearer tokens are sent in the Authorization header.",
  "A basic understanding of regular expressions helps.",
  "See https://example.com/docs/getting-started for the guide.",
  "mkdir -p build/output && cp -r src build/output",
  "const token = getToken(); // fetch it lazily",
  "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  "commit 3f2a9c1e7b4d5a6f8e9d0c1b2a3f4e5d6c7b8a9f",
  "uuid 123e4567-e89b-12d3-a456-426614174000 created",
  "Passed 42 tests, skipped 0; secret sauce recipe is in docs/cooking.md",
  "key: value\nname: rein\nversion: 0.1.0",
];

/**
 * Rein's own rules for credentials in text. Patterns are RE2 syntax (run by the linear-time `re2`
 * engine, never by V8's backtracking one), each with lower-case keywords: a rule runs only on text
 * that contains one of its keywords (the prefilter). `group` names the capture that is the secret;
 * only that part is replaced, so `password=hunter2` keeps its key. Written for this project, measured
 * against gitleaks' default rules (../shared/corpora/gitleaks-rules) in the tests, not copied from them.
 */
export interface SecretRule {
  /** The placeholder's kind: `[REDACTED:<id>:<n>]`. */
  readonly id: string;
  readonly description: string;
  /** RE2 source. */
  readonly pattern: string;
  /** Lower-case literals; the rule runs only when the lower-cased text contains one. */
  readonly keywords: readonly string[];
  /** Capture group holding the secret (0 = the whole match). */
  readonly group: number;
  /** Minimum Shannon entropy (bits per character) of the secret, for rules that would otherwise match words. */
  readonly minEntropy?: number;
  /** Extra check on the captured secret (e.g. basic auth must decode to `user:password`). */
  readonly validate?: (secret: string) => boolean;
  /**
   * A necessary condition for a match, checked in JavaScript after the keyword prefilter and before
   * the regex engine: `false` means the pattern cannot match anywhere in the text, so the rule is not
   * run. For rules whose keyword is common in ordinary text (`://` in every URL).
   */
  readonly precheck?: (text: string) => boolean;
}

/** Values that stand for a secret rather than being one: `${PASSWORD}`, `<token>`, `****`, `changeme`? no: that one is real. */
const PLACEHOLDER_VALUE =
  /^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{.*\}\}|<[^>]*>|%\(?[A-Za-z_]*\)?s?|\*+|x+|X+|\.{3,}|null|none|nil|undefined|true|false|string|str|required|optional|redacted|\[REDACTED:.*)$/i;

/** True when a captured value is a stand-in (`${DB_PASSWORD}`, `<token>`, `****`) rather than a secret. */
export function isPlaceholderValue(value: string): boolean {
  return PLACEHOLDER_VALUE.test(value);
}

const notPlaceholder = (v: string) => !isPlaceholderValue(v) && !v.includes("(") && !v.startsWith("[");

/** `Basic dXNlcjpwYXNz` is a credential only when it decodes to `user:password`. */
function decodesToUserPass(b64: string): boolean {
  const text = Buffer.from(b64, "base64").toString("utf8");
  const colon = text.indexOf(":");
  return colon > 0 && colon < text.length - 1 && /^[\x20-\x7e]+$/.test(text);
}

/**
 * Whether some `://` in `text` is followed by a `:` and then an `@` before any character that ends a
 * URL's authority for the url_password rule (`/ ? # ' "`, space, tab, line feed, form feed, carriage
 * return: characters its classes exclude in every engine): without that, the rule cannot match. Each
 * `://` reads at most up to the next `/`, so the whole check is linear.
 */
export function mayHoldUrlCredentials(text: string): boolean {
  for (let at = text.indexOf("://"); at !== -1; at = text.indexOf("://", at + 1)) {
    let colon = false;
    for (let i = at + 3; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x40 /* @ */) {
        if (colon) return true;
        break;
      }
      if (c === 0x3a /* : */) colon = true;
      else if (
        c === 0x2f /* / */ ||
        c === 0x3f /* ? */ ||
        c === 0x23 /* # */ ||
        c === 0x27 /* ' */ ||
        c === 0x22 /* " */ ||
        c === 0x20 ||
        c === 0x09 ||
        c === 0x0a ||
        c === 0x0c ||
        c === 0x0d
      )
        break;
    }
  }
  return false;
}

// Characters a token is made of; used to say where a token ends without look-around (RE2 has none).
const TOKEN_END = "(?:[^A-Za-z0-9_\\-]|$)";

export const SECRET_RULES: readonly SecretRule[] = [
  {
    id: "private_key",
    description:
      "PEM private key block (RSA, EC, DSA, OPENSSH, PGP, PKCS#8, encrypted), also cut off or JSON-escaped",
    // Whole block when END is there; otherwise everything base64-like after BEGIN (a truncated output).
    pattern:
      "-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[\\s\\S]*?-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\\s\\\\:,.\\-]*)",
    keywords: ["private key"],
    group: 0,
  },
  {
    id: "aws_access_key",
    description: "AWS access key id (AKIA…, ASIA…)",
    pattern: "\\b((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})\\b",
    keywords: ["akia", "asia", "abia", "acca", "a3t"],
    group: 1,
  },
  {
    id: "aws_secret_key",
    description: "AWS secret access key next to its name",
    pattern:
      "(?i)aws[\\w.\\-]{0,20}?(?:secret|sk)[\\w.\\-]{0,20}?[\"']?\\s*(?:[:=]|=>)\\s*[\"']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)",
    keywords: ["aws"],
    group: 1,
    minEntropy: 3.5,
  },
  {
    id: "gcp_api_key",
    description: "Google Cloud / Firebase API key",
    pattern: `\\b(AIza[0-9A-Za-z_\\-]{35})${TOKEN_END}`,
    keywords: ["aiza"],
    group: 1,
  },
  {
    id: "gcp_oauth_secret",
    description: "Google OAuth client secret",
    pattern: "\\b(GOCSPX-[A-Za-z0-9_\\-]{28})",
    keywords: ["gocspx-"],
    group: 1,
  },
  {
    id: "azure_storage_key",
    description: "Azure storage account key in a connection string",
    pattern: "(?i)AccountKey=([A-Za-z0-9+/]{86}==)",
    keywords: ["accountkey"],
    group: 1,
  },
  {
    id: "azure_client_secret",
    description: "Azure AD (Entra) client secret",
    pattern: `(?:^|[^A-Za-z0-9_~.\\-])([A-Za-z0-9_~.]{3}\\dQ~[A-Za-z0-9_~.\\-]{31,34})${TOKEN_END}`,
    keywords: ["q~"],
    group: 1,
  },
  {
    id: "azure_sas_signature",
    description: "Azure shared access signature (sig= in a SAS URL or connection string)",
    pattern: "(?i)[?&;]sig=([A-Za-z0-9%+/=]{30,})",
    keywords: ["sig="],
    group: 1,
  },
  {
    id: "github_token",
    description: "GitHub token (classic PAT, OAuth, app, refresh)",
    pattern: "\\b(gh[pousr]_[A-Za-z0-9]{36,})\\b",
    keywords: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
    group: 1,
  },
  {
    id: "github_token",
    description: "GitHub fine-grained personal access token",
    pattern: "\\b(github_pat_[A-Za-z0-9_]{22,})",
    keywords: ["github_pat_"],
    group: 1,
  },
  {
    id: "gitlab_token",
    description: "GitLab token (personal, deploy, runner, pipeline trigger, CI job, feed, agent)",
    pattern: "\\b(gl(?:pat|dt|rt|ptt|cbt|imt|soat|ft|agent|oas)-[A-Za-z0-9_\\-]{20,})",
    keywords: [
      "glpat-",
      "gldt-",
      "glrt-",
      "glptt-",
      "glcbt-",
      "glimt-",
      "glsoat-",
      "glft-",
      "glagent-",
      "gloas-",
    ],
    group: 1,
  },
  {
    id: "gitlab_token",
    description: "GitLab runner registration token",
    pattern: "\\b(GR1348941[A-Za-z0-9_\\-]{20})",
    keywords: ["gr1348941"],
    group: 1,
  },
  {
    id: "slack_token",
    description: "Slack bot, user, app or config token",
    pattern: "\\b(xox[abposre]-[A-Za-z0-9\\-]{10,}|xapp-\\d-[A-Za-z0-9\\-]{10,})",
    keywords: ["xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xapp-"],
    group: 1,
  },
  {
    id: "slack_webhook",
    description: "Slack incoming webhook URL",
    pattern: "(?i)hooks\\.slack\\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/_\\-]{20,})",
    keywords: ["hooks.slack.com"],
    group: 1,
  },
  {
    id: "stripe_key",
    description: "Stripe secret or restricted key, webhook secret",
    pattern: "\\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{32,})",
    keywords: ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"],
    group: 1,
  },
  {
    id: "anthropic_api_key",
    description: "Anthropic API or admin key",
    pattern: "\\b(sk-ant-[A-Za-z0-9_\\-]{20,})",
    keywords: ["sk-ant-"],
    group: 1,
  },
  {
    id: "openai_api_key",
    description: "OpenAI project, service-account, admin or legacy key",
    pattern:
      "\\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\\-]{20,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|sk-[A-Za-z0-9]{32,})" +
      TOKEN_END,
    keywords: ["sk-"],
    group: 1,
    minEntropy: 3.0,
  },
  {
    id: "huggingface_token",
    description: "Hugging Face access token",
    pattern: "\\b(hf_[A-Za-z0-9]{34,})\\b",
    keywords: ["hf_"],
    group: 1,
    minEntropy: 3.0,
  },
  {
    id: "npm_token",
    description: "npm access token",
    pattern: "\\b(npm_[A-Za-z0-9]{36})\\b",
    keywords: ["npm_"],
    group: 1,
  },
  {
    id: "pypi_token",
    description: "PyPI upload token",
    pattern: "\\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\\-]{50,})",
    keywords: ["pypi-ageichlwas5vcmc"],
    group: 1,
  },
  {
    id: "sendgrid_key",
    description: "SendGrid API key",
    pattern: "\\b(SG\\.[A-Za-z0-9_\\-]{22}\\.[A-Za-z0-9_\\-]{43})",
    keywords: ["sg."],
    group: 1,
  },
  {
    id: "jwt",
    description: "JSON Web Token (header.payload.signature)",
    pattern: "\\b(eyJ[A-Za-z0-9_\\-]{6,}\\.eyJ[A-Za-z0-9_\\-]{6,}\\.[A-Za-z0-9_\\-]*)",
    keywords: ["eyj"],
    group: 1,
  },
  {
    id: "url_password",
    description: "password in a URL or connection URI (scheme://user:password@host)",
    pattern: "\\b[A-Za-z][A-Za-z0-9+.\\-]{1,20}://[^:/?#\\s@'\"]*:([^@/?#\\s'\"]+)@",
    keywords: ["://"],
    group: 1,
    validate: notPlaceholder,
    precheck: mayHoldUrlCredentials,
  },
  {
    id: "password",
    description: 'password assignment (password=, pwd:, "passwd": …), also in connection strings',
    pattern:
      "(?i)(?:^|[^A-Za-z0-9])(?:password|passwd|passphrase|pwd|pass)[\"']?\\s*(?::=|=>|=|:)\\s*[\"']?([^\\s\"';,&<$\\[{%][^\\s\"';,&]{2,})",
    keywords: ["pass", "pwd"],
    group: 1,
    validate: notPlaceholder,
  },
  {
    id: "password",
    description: "password on a command line: --password=…, --password …, mysql -p…, sshpass -p …",
    pattern:
      "(?i)(?:--(?:password|passwd|pass)(?:=|\\s+)|\\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\\b[^\\n]*?\\s-p|\\bsshpass\\s+-p\\s*)([^\\s\"']+)",
    keywords: ["--pass", "mysql", "mariadb", "sshpass"],
    group: 1,
    validate: notPlaceholder,
  },
  {
    id: "auth_header",
    description: "Authorization header value (Bearer, Basic, Token, or a bare credential)",
    pattern:
      "(?i)\\b(?:proxy-)?authorization[\"']?\\s*[:=]\\s*[\"']?(?:bearer|basic|token|digest|apikey|api-key)?\\s*([A-Za-z0-9\\-._~+/]{8,}=*)",
    keywords: ["authorization"],
    group: 1,
    validate: notPlaceholder,
  },
  {
    id: "bearer_token",
    description: "Bearer token outside a header",
    pattern: "(?i)\\bbearer\\s+([A-Za-z0-9\\-._~+/]{16,}=*)",
    keywords: ["bearer"],
    group: 1,
    minEntropy: 3.0,
  },
  {
    id: "basic_auth",
    description: "Basic credentials (base64 of user:password)",
    pattern: "(?i)\\bbasic\\s+([A-Za-z0-9+/]{8,}={0,2})(?:[^A-Za-z0-9+/=]|$)",
    keywords: ["basic"],
    group: 1,
    validate: decodesToUserPass,
  },
  {
    id: "generic_secret",
    description:
      "secret-looking value assigned to a name like secret, api_key, token, access_key, credentials",
    pattern:
      "(?i)(?:secret|api[_\\-]?key|apikey|access[_\\-]?key|auth[_\\-]?key|private[_\\-]?key|token|credentials?)[\\w.\\-]{0,20}[\"']?\\s*(?::=|=>|=|:)\\s*[\"']?([A-Za-z0-9\\-_.+/=~!@#$%^*]{8,})",
    keywords: ["secret", "key", "token", "credential"],
    group: 1,
    minEntropy: 3.5,
    validate: notPlaceholder,
  },
];

import { decodeLayers, normalise } from "./injection-normalise.js";

/** One reason a text looks like an injection. */
export interface InjectionEvidence {
  /** The signal (`ignore_instructions`, `chat_template_token`, …). */
  readonly signal: string;
  /** The matched text (normalised, at most 120 characters). */
  readonly excerpt: string;
  /** Set when the match was inside a decoded layer. */
  readonly decodedFrom?: "base64" | "url" | "rot13";
}

export interface InjectionVerdict {
  readonly injection: boolean;
  /** 0..1. */
  readonly score: number;
  readonly severity: "none" | "low" | "medium" | "high";
  readonly evidence: readonly InjectionEvidence[];
  /** The detector that decided (`injection:heuristic`, `injection:model`). */
  readonly by: string;
}

/** Something that judges whether a text carries instructions for the model. */
export interface InjectionDetector {
  readonly name: string;
  detect(text: string, signal?: AbortSignal): InjectionVerdict | Promise<InjectionVerdict>;
}

interface Signal {
  readonly name: string;
  readonly weight: number;
  /** Only bounded gaps ({0,n}) and no nested quantifiers: at most O(length × gap) per pattern. */
  readonly pattern: RegExp;
  /** Trusted inside a rot13 layer (strong, specific phrases only). */
  readonly inRot13?: boolean;
}

const W = "[^.!?\\n]{0,40}?"; // a short gap inside one sentence

const SIGNALS: readonly Signal[] = [
  {
    name: "ignore_instructions",
    weight: 0.9,
    inRot13: true,
    pattern: new RegExp(
      `\\b(?:ignore|disregard|forget|overlook|skip|override|bypass|drop|abandon|neglect|dismiss)\\b${W}\\b(?:previous|prior|preceding|above|earlier|initial|original|all|any|your|those|these|system|old|everything)\\b${W}\\b(?:instructions?|directives?|rules?|prompts?|guidelines?|commands?|orders?|context|constraints?|programming|restrictions?|you(?:'ve| have) been told|told)\\b`,
    ),
  },
  {
    name: "ignore_instructions",
    weight: 0.85,
    inRot13: true,
    pattern:
      /\b(?:ignore|disregard|forget) (?:everything|the above|about (?:that|this|the above)|all(?: of)? (?:that|this|the above)|what (?:you|i) (?:were|was|have been) (?:told|said))\b|\bregardless of (?:previous|prior|earlier|any|your) (?:tasks?|instructions?|rules?)\b/,
  },
  {
    name: "ignore_instructions",
    weight: 0.85,
    // The same order in other languages (Spanish, Portuguese, Italian, French, German, Russian, Greek, Korean, Hindi, Chinese, Japanese).
    pattern:
      /\b(?:ignora|ignore|olvida|esquece|esqueça|ignorez|oubliez|ignoriere|vergiss)\w*\b[^.!?\n]{0,30}?\b(?:instrucciones|instruções|istruzioni|instructions|anweisungen|indicaciones)\b|игнорир\S*\s+(?:все\s+)?предыдущ|αγνοήστε|이전 지시|पिछले निर्देश|忽略(?:之前|以上|先前)|以前の指示を無視/,
  },
  {
    name: "chat_template_token",
    weight: 0.95,
    pattern:
      /<\|(?:im_start|im_end|system|user|assistant|endoftext|start_header_id|end_header_id|eot_id|begin_of_text)\|>|\[\/?inst\]|<<\/?sys>>|<\/?(?:system|assistant)>|<start_of_turn>|<end_of_turn>/,
  },
  {
    name: "role_switch",
    weight: 0.75,
    pattern:
      /(?:^|\n)[ \t#*>[(-]{0,6}(?:system|assistant|developer|admin(?:istrator)?|root)(?: message| prompt| note| instructions?| override)?[ \t\])*]{0,4}:[ \t]*\S/,
  },
  {
    name: "role_switch",
    weight: 0.8,
    inRot13: true,
    pattern:
      /\b(?:system|developer|admin|debug|god|maintenance|sudo|dan|jailbreak|unrestricted|override) mode\b|\bsystem (?:override|update|alert)s?\b|\bi(?:'m| am) (?:your|the) (?:developer|creator|administrator|admin|owner|operator)\b|\b(?:new|updated|revised|real|actual|true) (?:instructions?|task|directives?|objective|system prompt)\b/,
  },
  {
    name: "persona_switch",
    weight: 0.6,
    pattern:
      /\byou are (?:now|no longer)\b|\bfrom now on(?:,)? (?:you|your|respond|answer|reply|act)\b|\byour (?:new|real|true) (?:role|name|persona|purpose|instructions|task)\b/,
  },
  {
    name: "roleplay",
    weight: 0.3,
    pattern:
      /\bpretend (?:to be|you are|that you)\b|\bact as (?:if|though|an?|the|my)\b|\broleplay as\b|\b(?:imagine|suppose) you (?:are|were)\b/,
  },
  {
    name: "addressed_to_ai",
    weight: 0.4,
    pattern: new RegExp(
      `\\b(?:ai|assistant|chatbot|language model|llm|gpt|claude|gemini|agent|bot)\\b${W}\\b(?:must|should|shall|need to|have to|are (?:required|instructed|ordered) to|will now)\\b|\\b(?:if you are|as an?|dear|attention|note to (?:the )?|hey) (?:ai|assistant|chatbot|language model|llm|agent|bot)\\b`,
    ),
  },
  {
    name: "reveal_secrets",
    weight: 0.7,
    inRot13: true,
    pattern: new RegExp(
      `\\b(?:reveal|print|output|repeat|show|tell|give|disclose|leak|share|display|write|say|spell|confirm|provide|what(?: is|'s|s)?)\\b${W}\\b(?:(?:your|the) (?:system prompt|initial prompt|hidden (?:prompt|instructions)|secret (?:key|word|code|phrase)|password|passcode|passphrase|api key|credentials)|your (?:instructions|secret|rules|prompt))\\b`,
    ),
  },
  {
    name: "concealment",
    weight: 0.7,
    pattern:
      /\b(?:do not|don't|never|without) (?:tell(?:ing)?|inform(?:ing)?|mention(?:ing)?|reveal(?:ing)?|notify(?:ing)?|alert(?:ing)?|let(?:ting)?) (?:the )?(?:user|human|anyone|them|your (?:user|operator))\b/,
  },
  {
    name: "response_manipulation",
    weight: 0.55,
    pattern: new RegExp(
      `\\b(?:add|include|insert|integrate|incorporate|append|embed|mention|promote|inject|put|place|end|start|begin|conclude)\\b${W}\\b(?:in|into|within|to|with) (?:your|each|every) (?:response|answer|reply|output|summary|message)s?\\b|\\b(?:encrypt|encode|translate|reverse|convert|rewrite|write|format|represent|express|deliver|give|provide)\\b${W}\\byour (?:response|answer|reply|output)s?\\b(?! (?:to|about|for) )|\\byour (?:response|answer|reply|output)s? (?:must|should|shall|has to|needs to) (?:be|include|contain|start|end)\\b`,
    ),
  },
  {
    name: "code_insertion",
    weight: 0.7,
    pattern: new RegExp(
      `\\b(?:add|include|insert|embed|incorporate|integrate|blend|feature|inject|append|use|place|put|paste|validate)\\b${W}\\b(?:following|below|this|subsequent|given|provided|attached)\\b${W}\\b(?:code|snippet|script|block|excerpt|line|payload|command)s?\\b`,
    ),
  },
  {
    name: "instead_directive",
    weight: 0.5,
    pattern:
      /\binstead(?:,)? (?:you (?:must|should|will)|(?:please )?(?:respond|reply|say|output|write|print|answer|do|tell|send|run|execute))\b/,
  },
  {
    name: "exfiltration",
    weight: 0.6,
    pattern:
      /!\[[^\]\n]{0,100}\]\(https?:\/\/[^)\s]{0,200}[?&][^)\s=]{1,40}=|\b(?:send|post|upload|forward|email|transmit|exfiltrate)\b[^.!?\n]{0,60}?\b(?:to|at|via) (?:https?:\/\/|www\.|[a-z0-9.-]+@)|\b(?:curl|wget)\b[^\n]{0,80}?https?:\/\//,
  },
  {
    name: "tool_invocation",
    weight: 0.6,
    pattern:
      /\b(?:call|invoke|use|run|execute) (?:the )?(?:`?[a-z_]+`? )?(?:tool|function)\b[^.!?\n]{0,40}?\b(?:with|to)\b|\b(?:run|execute) (?:this|the following) (?:command|shell|script)\b/,
  },
];

/** Long texts are scanned in windows of this size, overlapping by WINDOW_OVERLAP, so the work stays linear and every part is read. */
const WINDOW = 64 * 1024;
const WINDOW_OVERLAP = 512;
/** rot13 of trigger words; the rot13 layer is only decoded when one of them is present. */
const ROT13_HINT = /vtaber|qvfertneq|sbetrg|cerivbhf|vafgehpgvba|flfgrz|cebzcg|cnffjbeq|erirny|frperg/i;

export interface HeuristicDetectorOptions {
  /** Score at or above which a text is an injection (default 0.5). */
  readonly threshold?: number;
}

/**
 * The heuristic detector: normalises the text (case, spacing, homoglyphs, zero-width characters),
 * decodes base64, URL-encoding and rot13 layers, and looks for role-switch markers, chat-template
 * tokens, instructions to ignore prior instructions, and imperatives addressed to an AI. Each signal
 * has a weight; the score is `1 - Π(1 - weight)` over the distinct signals found.
 *
 * @example
 * new HeuristicInjectionDetector().detect("IGNORE all previous instructions").injection; // true
 */
export class HeuristicInjectionDetector implements InjectionDetector {
  readonly name = "injection:heuristic";
  readonly threshold: number;

  constructor(options: HeuristicDetectorOptions = {}) {
    this.threshold = options.threshold ?? 0.5;
  }

  detect(text: string): InjectionVerdict {
    const evidence: InjectionEvidence[] = [];
    const found = new Map<string, number>();
    const scan = (t: string, from?: InjectionEvidence["decodedFrom"]) => {
      for (const s of SIGNALS) {
        if (from === "rot13" && !s.inRot13) continue;
        if ((found.get(s.name) ?? 0) >= s.weight) continue;
        const m = s.pattern.exec(t);
        if (!m) continue;
        found.set(s.name, Math.max(found.get(s.name) ?? 0, s.weight));
        evidence.push({
          signal: s.name,
          excerpt: m[0].trim().slice(0, 120),
          ...(from ? { decodedFrom: from } : {}),
        });
      }
    };
    for (let at = 0; at < text.length; at += WINDOW - WINDOW_OVERLAP) {
      const raw = text.length <= WINDOW ? text : text.slice(at, at + WINDOW);
      scan(normalise(raw));
      for (const layer of decodeLayers(raw, ROT13_HINT.test(raw)))
        scan(normalise(layer.text), layer.encoding);
      if (at + WINDOW >= text.length) break;
    }
    let keep = 1;
    for (const w of found.values()) keep *= 1 - w;
    const score = Math.round((1 - keep) * 1000) / 1000;
    return {
      injection: score >= this.threshold,
      score,
      severity: score >= 0.85 ? "high" : score >= 0.65 ? "medium" : score >= this.threshold ? "low" : "none",
      evidence,
      by: this.name,
    };
  }
}

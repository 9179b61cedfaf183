/** Deepest `sh -c "sh -c '…'"` nesting analysed; deeper is HIGH. */
export const MAX_NESTING = 6;

// The shell completion scripts `gsnap completion bash|zsh` prints. They are small on purpose: on
// each Tab they hand the words typed to `gsnap __complete -- WORDS...` (the same program, so the
// same commands and flags) and offer the lines it prints; with no lines, the shell's own file name
// completion takes over, as for a command without completion. Errors of the call are discarded.

export const COMPLETION_SHELLS = ["bash", "zsh"] as const;

export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

export function isCompletionShell(name: string): name is CompletionShell {
  return (COMPLETION_SHELLS as readonly string[]).includes(name);
}

/** The completion script for `shell` of the program named `programName` (gsnap). */
export function completionScript(shell: CompletionShell, programName: string): string {
  const functionName = `_${programName.replace(/[^A-Za-z0-9_]/g, "_")}`;
  return shell === "bash"
    ? bashScript(programName, functionName)
    : zshScript(programName, functionName);
}

// Bash hands the completion function the words in COMP_WORDS (split at COMP_WORDBREAKS, which
// __complete joins back) and the index of the current one in COMP_CWORD. Candidates go back
// quoted with %q, so a VOLSER with $ (or a leading #) is inserted as one literal word.
function bashScript(programName: string, functionName: string): string {
  return `# bash completion for ${programName}, printed by \`${programName} completion bash\`.
#   this shell:  source <(${programName} completion bash)
#   every shell: ${programName} completion bash > ~/.local/share/bash-completion/completions/${programName}
${functionName}() {
  local candidate quoted
  COMPREPLY=()
  while IFS= read -r candidate; do
    printf -v quoted '%q' "$candidate"
    COMPREPLY+=("$quoted")
  done < <("\${COMP_WORDS[0]}" __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
}
complete -o default -F ${functionName} ${programName}
`;
}

// Zsh hands the words in $words (1-based, the command first) and the current index in $CURRENT.
// compadd quotes what it inserts. Loaded from $fpath (a file named _gsnap starting #compdef), the
// file's text is the function's body and runs on each Tab; sourced, it defines the function and
// registers it with compdef, which compinit provides.
function zshScript(programName: string, functionName: string): string {
  return `#compdef ${programName}
# zsh completion for ${programName}, printed by \`${programName} completion zsh\`.
#   this shell (after compinit):  source <(${programName} completion zsh)
#   every shell:                  ${programName} completion zsh > ~/.zfunc/${functionName}
#                                 (with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc)
${functionName}() {
  local -a candidates
  candidates=(\${(f)"$("\${words[1]}" __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)"})
  if (( \${#candidates} )); then
    compadd -a candidates
  else
    _files
  fi
}
if [[ "\${funcstack[1]}" == ${functionName} ]]; then
  ${functionName} "$@"
else
  compdef ${functionName} ${programName}
fi
`;
}

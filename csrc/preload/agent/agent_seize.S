/* amber_seize_gadget: the `syscall` instruction at which the coordinator makes a seized thread
 * issue a call (ctl_seize.c); it moves the thread on at the call's exit stop, so `ret` is never
 * reached.
 * amber_seized_entry: where a seized thread resumes after a restore (its context's rip, rbx the
 * index of its slot, rsp the top of the slot's stack): the agent's part (agent_seize.c), then
 * rt_sigreturn on the frame made from its registers at the snapshot. */
	.text
	.globl amber_seize_gadget
	.hidden amber_seize_gadget
	.type amber_seize_gadget, @function
amber_seize_gadget:
	syscall
	ret
	.size amber_seize_gadget, .-amber_seize_gadget

	.globl amber_seized_entry
	.hidden amber_seized_entry
	.type amber_seized_entry, @function
amber_seized_entry:
	movq %rbx, %rdi
	andq $-16, %rsp
	call amber_seized_resume
	leaq 8(%rax), %rsp              /* the kernel finds the frame 8 bytes below */
	movl $15, %eax                  /* SYS_rt_sigreturn */
	syscall
	hlt
	.size amber_seized_entry, .-amber_seized_entry
	.section .note.GNU-stack,"",@progbits

package org.privllm.untrusted;

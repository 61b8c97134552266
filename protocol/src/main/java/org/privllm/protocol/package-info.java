package org.privllm.protocol;

package org.privllm.model;

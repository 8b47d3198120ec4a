variable "zone_name" {
  description = "Public Route 53 zone that holds the chat hostname."
  type        = string
  default     = "example.com"
}

variable "hostname" {
  description = "Public hostname of the chat service; must match the Ingress host."
  type        = string
  default     = "chat.example.com"
}

variable "ingress_lb_hostname" {
  description = "DNS name of the load balancer in front of ingress-nginx (kubectl -n ingress-nginx get svc)."
  type        = string
}

variable "cluster_security_group_id" {
  description = "Security group of the Kubernetes worker nodes."
  type        = string
}

variable "db_security_group_id" {
  description = "Security group of the nodes that run the postgres StatefulSet."
  type        = string
}

variable "dns_ttl" {
  description = "TTL in seconds of the chat DNS record."
  type        = number
  default     = 300
}
